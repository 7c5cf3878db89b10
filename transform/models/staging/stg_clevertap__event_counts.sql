{{ clevertap_staging("event_counts") }}
