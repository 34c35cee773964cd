"""The repository's shape: top-level folders import only the layers below them, and nothing reads
outside the repository (a clone alone must pass the tests)."""
from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top: a folder may import its own modules and those of the folders before it.
LAYERS = ["schemas", "infra", "clickhouse", "producers", "numbering", "tenants", "incidents", "stream",
          "dashboards", "cdrflow"]


def folder_of_module() -> dict[str, str]:
    """Installed package name → repository folder, from pyproject's package-dir."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {package: folder.split("/")[0] for package, folder in config["tool"]["setuptools"]["package-dir"].items()}


def imported_folders(path: Path, folders: dict[str, str]) -> set[str]:
    """Top-level folders a module imports from (absolute cdrflow.* imports; relative ones stay home)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name != "cdrflow" and not name.startswith("cdrflow."):
                continue
            # the longest installed package that the name lies in
            package = max((p for p in folders if name == p or name.startswith(p + ".")), key=len, default=None)
            if package:
                found.add(folders[package])
    return found


def test_every_source_folder_has_a_layer():
    assert sorted(set(folder_of_module().values())) == sorted(LAYERS)


def test_folders_import_only_the_layers_below_them():
    folders = folder_of_module()
    wrong = []
    for folder in LAYERS:
        allowed = set(LAYERS[:LAYERS.index(folder) + 1])
        for path in sorted((ROOT / folder).rglob("*.py")):
            for target in imported_folders(path, folders) - allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {target}/")
    assert not wrong, "imports against the layer order (which also rules out cycles):\n" + "\n".join(wrong)


def test_no_tracked_file_reads_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files", "*.py", "*.toml", ".ci/*"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    outside = [name for name in tracked if name != "tests/test_layout.py"
               and ("../shared" in (text := (ROOT / name).read_text()) or '"shared" / "samples"' in text)]
    assert not outside


# Modules that may hold SQL text: the dashboards' panel SQL is the dashboards' own code, cluster.py
# rewrites the migrations' DDL, access.py quotes the grant DDL (which takes no bind parameters), and
# sql.py's count_of is the one query nested in another. Every other query is a clickhouse/ .sql file.
SQL_IN_PYTHON = {"dashboards/definitions.py", "clickhouse/cluster.py", "tenants/access.py", "clickhouse/sql.py"}
_SQL = re.compile(r"\b(SELECT|INSERT INTO|ALTER TABLE|TRUNCATE TABLE|OPTIMIZE TABLE|GRANT|"
                  r"CREATE (TABLE|VIEW|DATABASE|MATERIALIZED VIEW|USER|ROW POLICY)|OR REPLACE VIEW)\b")


def sql_strings(path: Path) -> list[str]:
    """String literals of a module that read as SQL; docstrings and regular expressions aside."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            skipped.add(id(body[0].value))                                   # a docstring
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name) and node.func.value.id == "re":
            skipped.update(id(n) for arg in node.args for n in ast.walk(arg))  # a pattern
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skipped and _SQL.search(node.value)]


def test_sql_lives_in_sql_files():
    found = []
    for folder in LAYERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name not in SQL_IN_PYTHON:
                found += [f"{name}: {text[:70]!r}" for text in sql_strings(path)]
    assert not found, "SQL text in Python (make it a clickhouse/queries/*.sql file):\n" + "\n".join(found)


def test_the_sql_guard_sees_sql_in_python():
    assert sql_strings(ROOT / "tenants" / "access.py")   # the guard would see it, were it not exempt
