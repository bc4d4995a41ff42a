"""README's two commands stay true: CI runs exactly the test command README gives."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [c.strip() for c in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_gives_two_commands_and_ci_runs_the_test_one():
    main_job, tests = readme_commands()
    assert main_job.startswith("bash install.sh") and "zoo fit" in main_job
    assert tests.startswith("bash install.sh") and "pytest" in tests
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == tests
