"""release.yaml's `verify:` block and `after: {env, verified}`: read into typed values, strict, errors at file:line."""

from __future__ import annotations

import pytest

from release.config import AfterConfig, from_text
from release.errors import ReleaseError

BASE = """\
environments:
  - name: dev
    repo: https://git.example.com/team/infra.git
    updates: [{{file: dev.yaml, set: {{image.tag: "{{version}}"}}}}]
{dev}
  - name: prod
    repo: https://git.example.com/team/infra.git
    updates: [{{file: prod.yaml, set: {{image.tag: "{{version}}"}}}}]
{prod}
"""


def config(dev: str = "", prod: str = ""):  # type: ignore[no-untyped-def]
    return from_text(BASE.format(dev=dev, prod=prod))


def error_of(dev: str = "", prod: str = "") -> str:
    with pytest.raises(ReleaseError) as info:
        config(dev, prod)
    line = info.value.line()
    assert "\n" not in line
    return line


def test_a_full_verify_block_and_a_verified_after():
    cfg = config(
        dev="""\
    verify:
      commit_status: ["kustomization/apps/*", helmrelease/app/0c9c2e41]
      argocd: {server: https://argocd.example.com, applications: [app-dev], project: team}
      timeout: 300
      healthy_for: 60
      interval: 2
      wait: true""",
        prod="    after: {env: dev, verified: true}",
    )
    dev, prod = cfg.environments
    assert dev.verify is not None
    assert dev.verify.commit_status == ("kustomization/apps/*", "helmrelease/app/0c9c2e41")
    assert dev.verify.argocd is not None
    assert (dev.verify.argocd.server, dev.verify.argocd.applications) == ("https://argocd.example.com", ("app-dev",))
    assert (dev.verify.argocd.project, dev.verify.argocd.token) == ("team", "ARGOCD_AUTH_TOKEN")
    assert (dev.verify.timeout, dev.verify.healthy_for, dev.verify.interval, dev.verify.wait) == (300, 60, 2, True)
    assert dev.verify.reads_statuses
    assert prod.after == AfterConfig("dev", True)
    assert (prod.after_env, prod.after_verified) == ("dev", True)


def test_defaults_an_empty_verify_reads_any_status_and_a_plain_after_is_files_only():
    cfg = config(dev="    verify: {}", prod="    after: dev")
    dev, prod = cfg.environments
    assert dev.verify is not None
    assert (dev.verify.commit_status, dev.verify.argocd, dev.verify.timeout) == (None, None, 600)
    assert (dev.verify.healthy_for, dev.verify.interval, dev.verify.wait) == (0, 5, False)
    assert dev.verify.reads_statuses  # no names and no argocd: any status the agent posts
    assert (prod.after_env, prod.after_verified) == ("dev", False)
    assert dev.verify is not None and config().environments[0].verify is None


def test_argocd_alone_does_not_read_statuses():
    cfg = config(dev="    verify: {argocd: {server: 'https://argocd.example.com', applications: [a]}}")
    assert cfg.environments[0].verify is not None
    assert not cfg.environments[0].verify.reads_statuses


@pytest.mark.parametrize(
    ("dev", "prod", "needles"),
    [
        ("    verify: {timeout: 0}", "", ["release.yaml:5:", "'environments[0].verify.timeout'", "above 0"]),
        ("    verify: {timout: 10}", "", ["release.yaml:5:", "unknown key 'environments[0].verify.timout'", "timeout"]),
        ("    verify: {healthy_for: -1}", "", ["release.yaml:5:", "healthy_for", "below 0"]),
        ("    verify: {commit_status: ['']}", "", ["release.yaml:5:", "an empty status name"]),
        ("    verify: {commit_status: kustomization/apps}", "", ["release.yaml:5:", "must be a list"]),
        (
            "    verify: {argocd: {server: argocd.example.com, applications: [a]}}",
            "",
            ["release.yaml:5:", "not an http(s) URL"],
        ),
        (
            "    verify: {argocd: {server: 'https://u:p@argocd.example.com', applications: [a]}}",
            "",
            ["carries credentials", "ARGOCD_AUTH_TOKEN"],
        ),
        (
            "    verify: {argocd: {server: 'https://argocd.example.com', applications: [a], token: 'eyJhbG.c.i'}}",
            "",
            ["token must name an environment variable"],
        ),
        ("    verify: {argocd: {server: 'https://argocd.example.com'}}", "", ["missing the key 'applications'"]),
        ("    verify: {argocd: {server: 'https://a.example', applications: []}}", "", ["no application named"]),
        ("", "    after: {env: dev, verified: true}", ["after dev verified, but dev has no verify:"]),
        ("", "    after: {env: qa}", ["after 'qa' is not another environment"]),
        ("", "    after: {env: dev, verfied: true}", ["unknown key 'environments[1].after.verfied'", "verified"]),
    ],
)
def test_bad_verify_settings_are_named_at_their_line(dev, prod, needles):
    line = error_of(dev, prod)
    for needle in needles:
        assert needle in line, (needle, line)
