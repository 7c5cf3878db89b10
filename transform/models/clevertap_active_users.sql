{#
  DAU, WAU and MAU side by side: each is the count of one query of the same event and filters,
  recognised by its granularity whatever its name: day, rolling_7d, and for MAU rolling_30d or
  rolling_28d. A series (account, event, filters) with a rolling_30d query takes mau from it
  alone; one without takes mau from its rolling_28d query. So a series never mixes the two
  windows from day to day, and mau stays what it was for a project that had a 30-day query
  before 28-day ones counted. A measure whose query is not configured (or has not counted that
  day yet) is null, never zero.
#}
with windows as (
    select account_id, event_name, event_properties, to_date as day, granularity, query_name,
        {{ adapter.quote("count") }} as active_users
    from {{ ref("stg_clevertap__profile_counts") }}
    where granularity in ('day', 'rolling_7d', 'rolling_28d', 'rolling_30d')
),

mau_windows as (
    select
        account_id,
        event_name,
        event_properties,
        case
            when max(case when granularity = 'rolling_30d' then 1 else 0 end) = 1
                then 'rolling_30d'
            else 'rolling_28d'
        end as mau_granularity
    from windows
    where granularity in ('rolling_28d', 'rolling_30d')
    group by account_id, event_name, event_properties
),

chosen as (
    select windows.*
    from windows
    left join mau_windows
        on windows.account_id = mau_windows.account_id
        and windows.event_name = mau_windows.event_name
        and windows.event_properties = mau_windows.event_properties
    where windows.granularity in ('day', 'rolling_7d')
        or windows.granularity = mau_windows.mau_granularity
),

measures as (
    select
        account_id,
        event_name,
        event_properties,
        day,
        max(case when granularity = 'day' then active_users end) as dau,
        max(case when granularity = 'rolling_7d' then active_users end) as wau,
        -- chosen holds one of the two MAU windows per series
        max(case when granularity in ('rolling_28d', 'rolling_30d') then active_users end) as mau,
        max(case when granularity = 'day' then query_name end) as dau_query_name,
        max(case when granularity = 'rolling_7d' then query_name end) as wau_query_name,
        max(case when granularity in ('rolling_28d', 'rolling_30d') then query_name end)
            as mau_query_name
    from chosen
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
