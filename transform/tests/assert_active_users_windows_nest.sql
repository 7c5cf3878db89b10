-- The windows nest (a day inside its 7 days inside its 28 or 30), so dau <= wau <= mau on every row
-- where all three were counted, and each pair where two were. A row here is a wrong count, or
-- counts of different queries mixed up.
select account_id, event_name, event_properties, day, dau, wau, mau
from {{ ref("clevertap_active_users") }}
where dau > wau or wau > mau or dau > mau
