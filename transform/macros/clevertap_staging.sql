{#
  The staging select of one raw table of the tap (profile_counts or event_counts): typed dates
  and count, event_properties in one canonical text, one row per primary key, and every other
  column the loader wrote passed through as it is (so a column the tap adds later reaches the
  staging view without a change here, and nothing here depends on it).

  A raw table that does not exist (event_counts is opt-in; a new environment has loaded nothing
  yet) gives an empty view of the same typed columns, so `dbt run` works in every environment.
#}

{% macro clevertap_staging(source_name) %}
{%- set src = source("clevertap", source_name) -%}
{%- set relation = none -%}
{%- if execute -%}
  {%- set relation = adapter.get_relation(
      database=src.database, schema=src.schema, identifier=src.identifier) -%}
{%- endif -%}
{%- if relation is none %}
select
    cast(null as {{ dbt.type_string() }}) as account_id,
    cast(null as {{ dbt.type_string() }}) as query_name,
    cast(null as date) as from_date,
    cast(null as date) as to_date,
    cast(null as {{ dbt.type_bigint() }}) as {{ adapter.quote("count") }},
    cast(null as {{ dbt.type_string() }}) as event_name,
    cast(null as {{ dbt.type_string() }}) as event_properties,
    cast(null as {{ dbt.type_string() }}) as granularity
where 1 = 0
{%- else %}
{%- set typed = ["account_id", "query_name", "from_date", "to_date", "count",
                 "event_name", "event_properties", "granularity"] -%}
{%- set names = adapter.get_columns_in_relation(relation) | map(attribute="name") | list -%}
{%- set others = [] -%}
{%- for name in names if name | lower not in typed -%}
  {%- do others.append(name) -%}
{%- endfor -%}
{%- set newest = "_sdc_batched_at" if "_sdc_batched_at" in (names | map("lower") | list) else none %}
with raw as (
    select
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(query_name as {{ dbt.type_string() }}) as query_name,
        {{ clevertap_as_date("from_date") }} as from_date,
        {{ clevertap_as_date("to_date") }} as to_date,
        cast({{ adapter.quote("count") }} as {{ dbt.type_bigint() }}) as {{ adapter.quote("count") }},
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        {{ clevertap_canonical_event_properties("event_properties") }} as event_properties,
        cast(granularity as {{ dbt.type_string() }}) as granularity
        {%- for name in others %},
        {{ adapter.quote(name) }}
        {%- endfor %},
        row_number() over (
            partition by account_id, query_name, from_date, to_date
            order by {{ newest ~ " desc nulls last" if newest else "to_date" }}
        ) as clevertap_row_rank
    from {{ src }}
)
select
    account_id, query_name, from_date, to_date, {{ adapter.quote("count") }},
    event_name, event_properties, granularity
    {%- for name in others %},
    {{ adapter.quote(name) }}
    {%- endfor %}
from raw
where clevertap_row_rank = 1
{%- endif %}
{% endmacro %}


{# A date whatever the loader made of the record's `format: date` string (VARCHAR, DATE or a
   timestamp text): its first ten characters, YYYY-MM-DD. #}
{% macro clevertap_as_date(column) -%}
cast(substring(cast({{ column }} as {{ dbt.type_string() }}), 1, 10) as date)
{%- endmacro %}
