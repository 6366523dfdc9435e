"""What every benchmark shares; each bench/<name>.py holds only its scenario.

report      BenchError, log(), main() (one JSON object on stdout, logs on stderr, exit
            0/1/2), git_state(), failed()
stats       percentile(), summary(), spread() (median, min and max of rounds), ratio()
processes   free_port(), tail(), Processes (subprocesses in their own process groups),
            wait_for(), wait_http(), run_measured() (a command's output and its CPU)
cpu         tree_seconds() (CPU of named process trees from /proc), own_seconds(),
            delta(), process_seconds(), postgres_postmaster_pid(), redis_server_pid()
databases   require_postgres_url(), require_redis_url(), setup_django(),
            throwaway_database() (Django's test-database machinery), Databases (CREATE /
            DROP through the server, template copies), migrate(), use_database(),
            database_url(), connection_params(), psycopg_connect(), is_local()
queues      SERVER_QUEUES, redis_client(), redis_db_url(), dedicated_redis_db(),
            private_task_queues(), broker_lengths(), queue_lengths(), QueueSampler
stack       hub_env(), start_gunicorn(), WorkerSpec, Hub (gunicorn + Celery workers +
            beat), Simulator (the channel simulator and its control API), stats_delta()
inprocess   base_parser(), run_threads(), Phase, combine(), alternate(), Comparison,
            diagnose(), main() for benchmarks that run the hub's code in this process
wrk         require_wrk(), run_wrk(), WrkRun, write_deliveries() (HTTP load from wrk
            with pre-signed requests: bench/wrk/deliveries.lua)
"""
