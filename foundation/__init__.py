"""The building blocks every app stands on: the API's error shape, permissions and roles,
token authentication and the client address rule, encrypted fields, executemany updates,
enqueueing after commit, the flow-control Redis and its token bucket, the metrics the hub
records, the machine-endpoint middleware, paths under var/. They import no app."""
