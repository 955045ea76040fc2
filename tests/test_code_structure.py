"""The shape of the code: small modules, dependencies pointing one way, one registry."""

from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

from cascade.automation.stages import PIPELINE

ROOT = Path(__file__).parents[1]
CASCADE = ROOT / "cascade"
APPS = {"accounts", "planner", "writer", "ai", "notify", "live", "automation", "web"}
LEAVES = APPS - {"automation", "web"}  # they know nothing of the engine


def python_modules() -> list[Path]:
    return [p for p in CASCADE.rglob("*.py") if "migrations" not in p.parts]


def app_of(path: Path) -> str | None:
    parts = path.relative_to(CASCADE).parts
    return parts[0] if len(parts) > 1 and parts[0] in APPS else None


def imported_apps(path: Path) -> set[str]:
    """Apps a module imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "cascade" and len(parts) > 1 and parts[1] in APPS:
                found.add(parts[1])
    return found


def app_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {app: set() for app in APPS}
    for path in python_modules():
        app = app_of(path)
        if app:
            graph[app] |= imported_apps(path) - {app}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return trail[trail.index(node) :] + [node]
        for nxt in sorted(graph[node]):
            cycle = visit(nxt, trail + [node])
            if cycle:
                return cycle
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_no_module_is_longer_than_300_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in python_modules()
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert not long, long


def test_leaf_apps_never_import_automation_and_apps_form_no_cycle():
    graph = app_graph()
    offenders = {app: sorted(graph[app]) for app in LEAVES if "automation" in graph[app]}
    assert not offenders, f"these apps import automation: {offenders}"
    assert find_cycle(graph) is None, f"import cycle between apps: {find_cycle(graph)}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# Numbers that happen to equal the stage count (or count + 1, a range's end) but mean something
# else. Anything else equal to them outside the registry is a stage count written out again.
NOT_STAGE_COUNTS = {
    (
        "cascade/settings/__init__.py",
        'CASCADE_IMPORT_MAX_BYTES = env_int("CASCADE_IMPORT_MAX_BYTES", 8 * 1024 * 1024)',
    ),
    ("cascade/settings/work.py", 'CASCADE_CELERY_FANOUT = env_int("CASCADE_CELERY_FANOUT", 8)'),
    ("cascade/ai/answers.py", "outline: list[str] = Field(min_length=5, max_length=8)"),
    (
        "cascade/automation/page.py",
        'events = list(RunEvent.objects.filter(run=run).order_by("-id")[:8]) if run else []',
    ),
    ("cascade/automation/management/terminal.py", "refresh_per_second=8,"),
    ("cascade/ai/subjects.py", "MOST = 8"),
    (
        "cascade/automation/engine/processing.py",
        'log.warning("claim %s expired %s; another worker redoes its items", token[:8], when)',
    ),
    (
        "cascade/automation/engine/keeper.py",
        'log.exception("claim %s could not be extended", token[:8])',
    ),
    ("cascade/accounts/secrets.py", 'return f"…{secret[-4:]}" if len(secret) > 8 else "…"'),
    ("cascade/accounts/models.py", "ai_api_key_hint = models.CharField(max_length=8, blank=True)"),
    ("cascade/live/sse.py", "GZIP_MEMORY_LEVEL = 7"),
}


def stage_count_literals() -> list[tuple[str, str]]:
    count = len(PIPELINE)
    suspicious = {str(count), str(count + 1)}
    found = []
    for path in python_modules():
        if path.name == "stages.py" and path.parent.name == "automation":
            continue
        with path.open("rb") as fh:
            for token in tokenize.tokenize(fh.readline):
                if token.type == tokenize.NUMBER and token.string in suspicious:
                    found.append((str(path.relative_to(ROOT)), token.line.strip()))
    pattern = re.compile(rf"(?<![\w.#%-])({count}|{count + 1})(?![\w.%])")
    for path in [*CASCADE.rglob("*.html"), *CASCADE.rglob("*.js"), *CASCADE.rglob("*.css")]:
        if "vendor" in path.parts:
            continue
        for line in path.read_text().splitlines():
            if pattern.search(line):
                found.append((str(path.relative_to(ROOT)), line.strip()))
    return found


def test_no_stage_count_is_written_outside_the_registry():
    written = [hit for hit in stage_count_literals() if hit not in NOT_STAGE_COUNTS]
    assert not written, "\n".join(f"{path}: {line}" for path, line in written)


def test_every_setting_the_code_reads_is_in_env_example():
    names = set()
    for path in python_modules():
        text = path.read_text()
        names |= set(re.findall(r'env_(?:str|bool|int|float|list)\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'os\.environ(?:\.get)?\(\s*"([A-Z0-9_]+)"', text))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names, "no settings found: the pattern is broken"
    missing = sorted(names - documented - {"DJANGO_SETTINGS_MODULE"})
    assert not missing, f"not in .env.example: {missing}"


def test_the_benchmarks_import_what_exists():
    """`make bench` is not part of the suite; at least every name it imports must exist."""
    import importlib

    missing = []
    for path in (ROOT / "bench").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cascade"):
                module = importlib.import_module(node.module)
                missing += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name)
                    and importlib.util.find_spec(f"{node.module}.{alias.name}") is None
                ]
    assert not missing, missing


def test_hand_written_javascript_is_small_and_templates_have_no_inline_script():
    scripts = [p for p in CASCADE.rglob("*.js") if "vendor" not in p.parts]
    lines = {p.name: len(p.read_text().splitlines()) for p in scripts}
    # The pages are htmx and server-rendered; what JavaScript remains is small glue.
    assert scripts and max(lines.values()) <= 120, lines
    assert sum(lines.values()) <= 200, f"{lines}: too much hand-written JavaScript"
    inline = []
    for path in CASCADE.rglob("*.html"):
        text = path.read_text()
        inline += [f"{path.name}: {m}" for m in re.findall(r"\son[a-z]+=", text)]
        inline += [
            f"{path.name}: <script> without src"
            for _ in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        ]
    assert not inline, inline


def modules_named_in_the_readme() -> set[str]:
    """Modules the README's map ("Where things are") names: in a row's first cell, a
    backticked path (`cascade/automation/stages.py`), or a bare file name after one, which
    is in the same folder as the path before it (`page.py`, `views.py`)."""
    text = (ROOT / "README.md").read_text()
    table = text.split("### Where things are", 1)[1].split("\n\n", 2)[1]
    named = set()
    for row in table.splitlines()[2:]:
        folder = ""
        for token in re.findall(r"`([^`]+)`", row.split("|")[1]):
            if "/" in token:
                folder = token if token.endswith("/") else token.rsplit("/", 1)[0] + "/"
                if token.endswith(".py"):
                    named.add(token)
            elif token.endswith(".py") and folder:
                named.add(folder + token)
    return named


def test_the_readme_map_names_every_module():
    named = modules_named_in_the_readme()
    modules = {str(p.relative_to(ROOT)) for p in python_modules() if p.name != "__init__.py"} | {
        "cascade/settings/__init__.py"
    }
    assert not modules - named, f"not in the README's map: {sorted(modules - named)}"
    assert not named - modules, (
        f"in the README's map but not in the code: {sorted(named - modules)}"
    )


def test_a_command_starts_without_the_libraries_only_clustering_needs():
    """scikit-learn, SciPy's clustering and ONNX Runtime take most of a second to import: every
    `cascade` command, server and worker would wait for them. They load when keywords are
    clustered, not when Django starts."""
    import subprocess
    import sys

    heavy = ("sklearn", "scipy.cluster", "onnxruntime")
    code = (
        "import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cascade.settings');"
        "django.setup(); import cascade.celery, cascade.automation.engine, cascade.api;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
