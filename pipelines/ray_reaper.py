"""Ends a local Ray cluster's processes when the driver that started it dies without
`ray.shutdown()` (kill -9, OOM killer). Measured with Ray 2.60 on this machine: after a driver's
kill -9 its GCS and raylet exit within 3 s (they fate-share with it), but DashboardAgent and
RuntimeEnvAgent stay up 60 s more: they see the raylet die at once, then try to report its logs to
the dead GCS, which `publish_error_to_driver` waits 60 s for.

`python ray_reaper.py DRIVER_PID ROOT_PID...` (pipelines/ray_executor.connect starts it, in its own
session): every second it notes the processes the cluster's own processes (ROOT_PIDs: what
ray.init started) have started; once the driver is gone it kills those still alive, checked by
start time, so a reused pid is never hit. It leaves when the cluster is gone (ray.shutdown) or
after that. Only psutil (a Ray dependency) and the standard library: no project imports.
"""
import sys
import time

import psutil


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def reap(driver_pid: int, root_pids, interval: float = 1.0):
    try:
        driver = psutil.Process(driver_pid)
    except psutil.NoSuchProcess:
        driver = None
    known = {}  # pid -> psutil.Process (it remembers the start time)
    for pid in root_pids:
        try:
            known[pid] = psutil.Process(pid)
        except psutil.NoSuchProcess:
            pass
    while driver is not None and _alive(driver):
        for process in list(known.values()):
            try:
                known.update((child.pid, child) for child in process.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        if not any(_alive(p) for p in known.values()):
            return  # shut down cleanly: nothing left to watch
        time.sleep(interval)
    for process in known.values():
        try:
            if process.is_running():
                process.kill()
        except psutil.NoSuchProcess:
            pass


if __name__ == "__main__":
    reap(int(sys.argv[1]), [int(pid) for pid in sys.argv[2:]])
