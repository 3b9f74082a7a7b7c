import json
import subprocess
import sys


def test_plan_json_on_a_fresh_history(repo, release):
    repo.commit("feat: first feature")
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert plan["current_version"] is None
    assert plan["next_version"] == "0.1.0"
    assert plan["tag"] == "v0.1.0"


def test_python_dash_m_entry_point(repo):
    repo.commit("fix: a bug")
    repo.tag("v1.0.0")
    repo.commit("fix: another bug")
    out = subprocess.run([sys.executable, "-m", "release", "version"], cwd=repo.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1.0.1\n"
