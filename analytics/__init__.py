"""Call records and figures: one durable row per call (same database as tickets), the day / week /
month figures the city reports, `ivr report`, and the Prometheus metrics of `ivr serve`."""
