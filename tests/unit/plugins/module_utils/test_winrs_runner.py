"""The WinRS bootstrap and runner: they parse, and they keep the no-interpolation invariants.

No PowerShell can run here, so the scripts are checked structurally with tree-sitter-powershell.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
import tree_sitter
import tree_sitter_powershell

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs_runner as runner

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

FORBIDDEN_COMMANDS = {
    "invoke-expression", "iex", "add-type", "invoke-command", "icm", "start-process", "saps",
    "invoke-item", "ii", "start-job", "new-module", "import-module", "set-alias", "new-alias",
}
FORBIDDEN_MEMBERS = {"newscriptblock", "invokescript", "createnestedpipeline", "addscript"}


def parse(text):
    tree = PARSER.parse(text.encode("utf-8"))
    return tree.root_node


def nodes(root, node_type=None):
    stack = [root]
    while stack:
        node = stack.pop()
        if node_type is None or node.type == node_type:
            yield node
        stack.extend(node.children)


def text(node):
    return node.text.decode("utf-8")


def invocation_targets(root):
    """Variables invoked with & or . (dynamic command invocation)."""
    targets = []
    for cmd in nodes(root, "command"):
        op = [c for c in cmd.children if c.type == "command_invokation_operator"]
        if op:
            name = [c for c in cmd.children if c.type == "command_name_expr"]
            targets.append((text(op[0]).strip(), text(name[0]).strip() if name else ""))
    return targets


def static_calls(root):
    """(type literal, member) pairs of static method calls such as [ScriptBlock]::Create."""
    calls = []
    for inv in nodes(root, "invokation_expression"):
        type_lit = [c for c in inv.children if c.type == "type_literal"]
        member = [c for c in inv.children if c.type == "member_name"]
        if type_lit and member:
            calls.append((text(type_lit[0]).lower(), text(member[0]).lower()))
    return calls


@pytest.mark.parametrize("name", ["RUNNER_SCRIPT", "BOOTSTRAP_SCRIPT"])
def test_scripts_parse(name):
    root = parse(getattr(runner, name))
    assert root.has_error is False
    assert not [n for n in nodes(root) if n.is_missing]


@pytest.mark.parametrize("name", ["RUNNER_SCRIPT", "BOOTSTRAP_SCRIPT"])
def test_no_dynamic_code_commands(name):
    source = getattr(runner, name)
    root = parse(source)
    commands = {text(n).lower() for n in nodes(root, "command_name")}
    assert not commands & FORBIDDEN_COMMANDS
    members = {text(n).lower() for n in nodes(root, "member_name")}
    assert not members & FORBIDDEN_MEMBERS
    lowered = source.lower()
    for token in ("invoke-expression", "iex ", "newscriptblock", "add-type", "[scriptblock]::create"):
        assert token not in lowered


def test_runner_has_no_scriptblock_create_and_one_dynamic_invocation():
    root = parse(runner.RUNNER_SCRIPT)
    assert ("[system.management.automation.scriptblock]", "create") not in static_calls(root)
    assert "scriptblock]::create" not in runner.RUNNER_SCRIPT.lower()
    targets = invocation_targets(root)
    assert targets, "the runner must invoke the allow-listed command"
    assert set(targets) == {("&", "$stageName")}


def test_runner_invokes_only_allow_list_entries():
    source = runner.RUNNER_SCRIPT
    # the invoked name is the allow-list's own string, found by an ordinal (case-sensitive) lookup
    assert "[System.StringComparer]::Ordinal" in source
    assert "$HvAllowed.TryGetValue($requested, [ref]$allowedName)" in source
    assert "name = $allowedName" in source
    assert "$stageName = [string]$stage.name" in source
    # the request text is only decoded as data
    uses = [m.start() for m in re.finditer(r"\$RequestBase64", source)]
    assert len(uses) == 2  # the param declaration and FromBase64String
    assert "FromBase64String($RequestBase64)" in source
    # parameters are splatted from [name, value] pairs, with ErrorAction Continue
    assert "$splat[[string]$pair[0]] = $pair[1]" in source
    assert "$splat['ErrorAction'] = 'Continue'" in source
    assert "2>&1" in source


def test_runner_allow_list_matches_constant():
    listed = re.findall(r"^    '([^']+)'$", runner.RUNNER_SCRIPT, re.MULTILINE)
    assert tuple(listed) == runner.ALLOWED_CMDLETS


def test_bootstrap_runs_only_the_pinned_runner():
    source = runner.BOOTSTRAP_SCRIPT
    root = parse(source)
    creates = [c for c in static_calls(root) if c[1] == "create" and "scriptblock" in c[0]]
    assert len(creates) == 1
    assert invocation_targets(root) == [("&", "$hvRunner")]
    assert runner.RUNNER_SHA256 in source
    assert source.index("-cne '%s'" % runner.RUNNER_SHA256) < source.index("ScriptBlock]::Create")
    # line 2 (the request) is passed as an argument, never turned into code
    assert "& $hvRunner $hvLines[1]" in source
    assert "Create([System.Text.Encoding]::UTF8.GetString($hvBytes))" in source


def test_digest_and_encoded_command():
    assert runner.RUNNER_SHA256 == hashlib.sha256(runner.RUNNER_SCRIPT.encode("utf-8")).hexdigest()
    args = runner.command_arguments()
    assert args[:-1] == ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand"]
    assert base64.b64decode(args[-1]).decode("utf-16-le") == runner.BOOTSTRAP_SCRIPT


def test_stdin_carries_the_request_as_data():
    pipelines = [[{"cmdlet": "Hyper-V\\Get-VM", "parameters": [["Id", "x'; Remove-VM *; '\u2018$(a)`\n😀"]]}]]
    stdin = runner.build_stdin(pipelines)
    lines = stdin.split("\n")
    assert lines[2] == "" and len(lines) == 3
    assert base64.b64decode(lines[0]).decode("utf-8") == runner.RUNNER_SCRIPT
    request = json.loads(base64.b64decode(lines[1]).decode("utf-8"))
    assert request == {"version": 1, "pipelines": pipelines}
    assert stdin.isascii()


def test_parse_stdout():
    doc = {"version": 1, "results": [{"output": [{"Name": "\u00e9\U0001f600"}], "errors": [], "state": "Completed"}]}
    encoded = json.dumps(doc).encode("ascii")
    assert runner.parse_stdout(encoded, 1) == doc["results"]
    assert runner.parse_stdout("\ufeff" + json.dumps(doc) + "\r\n", 1) == doc["results"]
    with pytest.raises(ValueError):
        runner.parse_stdout(json.dumps(doc), 2)
    with pytest.raises(ValueError):
        runner.parse_stdout(json.dumps({"version": 2, "results": []}), 0)
    with pytest.raises(ValueError):
        runner.parse_stdout("not json", 1)
