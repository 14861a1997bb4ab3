"""Azure Function (Python v2 programming model): the scheduled kv-audit run.

The timer calls :func:`audit_function.function.run.run_once`: app settings
(audit_function/function/settings.py) and the config file read once, the same ``run_audit`` the CLI
uses, reports to Blob Storage (audit_function/sinks/blob.py). Deployment, settings and alerts:
infra/README.md.
"""

from __future__ import annotations

import logging
import os

import azure.functions as func

from audit_function.function.run import RunFailed, run_once  # noqa: F401  (RunFailed: what a failed run raises)

app = func.FunctionApp()
# azure-core logs every HTTP request at INFO; in Application Insights that buries the run's own lines.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


@app.function_name(name="kv_audit")
@app.timer_trigger(schedule="%AUDIT_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def kv_audit(timer: func.TimerRequest) -> None:
    run_once(os.environ, past_due=bool(timer.past_due))
