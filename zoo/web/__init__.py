"""The shared web-task benchmark: real Chromium pages (MiniWoB++ and our multi-page tasks)
behind a gym-style API, with a random agent, a scripted oracle and a scoring harness.

Importing this package registers every task in ``family("task")``; browser code (Playwright)
is imported only when an environment is created.
"""
from zoo.web.tasks import _register_all as _register_tasks

_register_tasks()

__all__ = ["VecWebEnv", "WebEnv"]


def __getattr__(name: str):  # lazy: keep `import zoo.web` (and `zoo list`) fast
    if name == "VecWebEnv":
        from zoo.web.vector import VecWebEnv

        return VecWebEnv
    if name == "WebEnv":
        from zoo.web.env import WebEnv

        return WebEnv
    raise AttributeError(name)
