"""The shared web-task benchmark: real Chromium pages (MiniWoB++ and our multi-page tasks)
behind a gym-style API, with a random agent, a scripted oracle and a scoring harness.

Importing this package registers every task in ``family("task")``; browser code (Playwright)
is imported only when an environment is opened (zoo/web/browser.py).
"""
from zoo.web.env import WebEnv
from zoo.web.tasks import _register_all as _register_tasks
from zoo.web.vector import VecWebEnv

_register_tasks()

__all__ = ["VecWebEnv", "WebEnv"]
