{#
  event_properties (the query's filters, a JSON array of {name, operator, value}) in one
  canonical text, the same on every adapter: elements sorted by name, operator and value, keys in
  the order name, operator, value, no spaces; null or no filters is '[]'. Two queries with the
  same filters written in another order or spacing get the same text, so they meet in one row of
  clevertap_active_users.
#}
{% macro clevertap_canonical_event_properties(column) -%}
  {{ return(adapter.dispatch("clevertap_canonical_event_properties", "clevertap_counts")(column)) }}
{%- endmacro %}

{% macro default__clevertap_canonical_event_properties(column) -%}
(
    select coalesce(
        '[' || string_agg(
            '{"name":' || coalesce(cast(e -> 'name' as text), 'null')
            || ',"operator":' || coalesce(cast(e -> 'operator' as text), 'null')
            || ',"value":' || coalesce(cast(e -> 'value' as text), 'null') || '}',
            ','
            order by e ->> 'name', e ->> 'operator', cast(e -> 'value' as text)
        ) || ']',
        '[]'
    )
    from jsonb_array_elements(cast({{ column }} as jsonb)) as elements(e)
)
{%- endmacro %}

{% macro duckdb__clevertap_canonical_event_properties(column) -%}
(
    select coalesce(
        '[' || string_agg(
            '{"name":' || coalesce(cast(json_extract(e, '$.name') as varchar), 'null')
            || ',"operator":' || coalesce(cast(json_extract(e, '$.operator') as varchar), 'null')
            || ',"value":' || coalesce(cast(json_extract(e, '$.value') as varchar), 'null') || '}',
            ','
            order by json_extract_string(e, '$.name'), json_extract_string(e, '$.operator'),
                cast(json_extract(e, '$.value') as varchar)
        ) || ']',
        '[]'
    )
    from (select unnest(from_json(cast({{ column }} as json), '["json"]')) as e)
)
{%- endmacro %}
