{{ clevertap_staging("profile_counts") }}
