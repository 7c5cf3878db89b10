{#
  Active users per calendar period: the counts of the queries of granularity week (ISO week,
  Monday to Sunday) and month, one row per account, event, filters and period. They are not days,
  so they stay out of clevertap_active_users.
#}
select
    account_id,
    event_name,
    event_properties,
    granularity as period,
    from_date as period_start,
    max(to_date) as period_end,
    max({{ adapter.quote("count") }}) as active_users,
    max(query_name) as query_name
from {{ ref("stg_clevertap__profile_counts") }}
where granularity in ('week', 'month')
group by account_id, event_name, event_properties, granularity, from_date
