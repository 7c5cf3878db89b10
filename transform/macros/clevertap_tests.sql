{# Generic data tests of this package (no dbt_utils needed: the package has no dependencies). #}

{# No two rows share the values of `columns` (the model's grain); nulls count as values. #}
{% test clevertap_unique_combination(model, columns) %}
select {{ columns | join(", ") }}, count(*) as rows_of_key
from {{ model }}
group by {{ columns | join(", ") }}
having count(*) > 1
{% endtest %}

{# Every non-null value of the column lies in [min_value, max_value]. #}
{% test clevertap_between(model, column_name, min_value, max_value) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
