{#
  DAU, WAU and MAU side by side: each is the count of one query of the same event and filters,
  recognised by its granularity (day, rolling_7d, rolling_30d) whatever its name. A measure whose
  query is not configured (or has not counted that day yet) is null, never zero.
#}
with windows as (
    select account_id, event_name, event_properties, to_date as day, granularity, query_name,
        {{ adapter.quote("count") }} as active_users
    from {{ ref("stg_clevertap__profile_counts") }}
    where granularity in ('day', 'rolling_7d', 'rolling_30d')
),

measures as (
    select
        account_id,
        event_name,
        event_properties,
        day,
        max(case when granularity = 'day' then active_users end) as dau,
        max(case when granularity = 'rolling_7d' then active_users end) as wau,
        max(case when granularity = 'rolling_30d' then active_users end) as mau,
        max(case when granularity = 'day' then query_name end) as dau_query_name,
        max(case when granularity = 'rolling_7d' then query_name end) as wau_query_name,
        max(case when granularity = 'rolling_30d' then query_name end) as mau_query_name
    from windows
    group by account_id, event_name, event_properties, day
)

select
    account_id,
    event_name,
    event_properties,
    day,
    dau,
    wau,
    mau,
    cast(dau as double precision) / nullif(mau, 0) as dau_over_mau,
    cast(wau as double precision) / nullif(mau, 0) as wau_over_mau,
    dau_query_name,
    wau_query_name,
    mau_query_name
from measures
