# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fixed PowerShell that the WinRS transport runs (contracts.md section 4).

``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <BOOTSTRAP>``
reads stdin: line 1 is base64(UTF-8 RUNNER_SCRIPT), line 2 is base64(UTF-8 JSON request).
The bootstrap checks the runner's SHA-256 against the digest pinned in its own text and only
then runs it, with line 2 as its single argument. The runner decodes the request *as data*,
runs each pipeline from allow-listed cmdlets with splatted parameters, and prints one JSON
document ``{"version": 1, "results": [...]}``.

Security invariants (tests/unit/plugins/module_utils/test_winrs_runner.py parses both scripts
with tree-sitter-powershell and checks them):

* no ``Invoke-Expression``/``iex``, no ``Add-Type``, no ``NewScriptBlock``;
* the runner has no ``[ScriptBlock]::Create``; the bootstrap has exactly one, applied to
  the runner text after its digest matched the pinned RUNNER_SHA256 (never to request data);
* the only ``&`` on a variable in the runner invokes a name taken from the runner's own
  allow-list after an exact, ordinal (case-sensitive) lookup of the requested name;
* request values only ever reach cmdlets as splatted parameter values.

hvsim imports BOOTSTRAP_SCRIPT, RUNNER_SCRIPT, RUNNER_SHA256 and ALLOWED_CMDLETS: it
recognises the bootstrap by exact text and the runner by digest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import re

# Every cmdlet the collection may send (module-qualified but for Select-Object): _client.CLIENT_CMDLETS plus the
# file cmdlets of _export (unit tests check both). Keep this list sorted.
ALLOWED_CMDLETS = (
    "CimCmdlets\\Get-CimInstance",
    "Hyper-V\\Checkpoint-VM",
    "Hyper-V\\Export-VM",
    "Hyper-V\\Export-VMSnapshot",
    "Hyper-V\\Get-VHD",
    "Hyper-V\\Get-VM",
    "Hyper-V\\Get-VMHardDiskDrive",
    "Hyper-V\\Get-VMIntegrationService",
    "Hyper-V\\Get-VMSnapshot",
    "Hyper-V\\Remove-VMSnapshot",
    "Hyper-V\\Rename-VMSnapshot",
    "Hyper-V\\Restore-VMSnapshot",
    "Hyper-V\\Save-VM",
    "Hyper-V\\Set-VM",
    "Hyper-V\\Start-VM",
    "Hyper-V\\Stop-VM",
    # file cmdlets of checkpoint_export (_export.EXPORT_CMDLETS); always called with -LiteralPath
    "Microsoft.PowerShell.Management\\Get-ChildItem",
    "Microsoft.PowerShell.Management\\New-Item",
    "Microsoft.PowerShell.Management\\Remove-Item",
    "Microsoft.PowerShell.Management\\Set-Content",
    "Microsoft.PowerShell.Utility\\Get-FileHash",
    "Microsoft.PowerShell.Utility\\Import-Csv",
    # unqualified, as _client.SELECT_OBJECT sends it (the projection of the host-wide reads)
    "Select-Object",
    "Storage\\Get-Volume",
)

for _name in ALLOWED_CMDLETS:  # the names are pasted into the runner as single-quoted literals
    if not re.match(r"\A(?:[A-Za-z][A-Za-z0-9.\-]*\\)?[A-Za-z]+-[A-Za-z0-9]+\Z", _name):
        raise ValueError("invalid allow-list entry %r" % _name)

_ALLOW_LIST_PS = "\n".join("    '%s'" % name for name in ALLOWED_CMDLETS)

RUNNER_SCRIPT = r"""# hyperv.checkpoints WinRS runner, protocol version 1.
# Runs structured pipelines of allow-listed cmdlets; request values are data, never code.
param(
    [Parameter(Mandatory = $true)]
    [string]$RequestBase64
)

Set-StrictMode -Version 1.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$HvAllowList = @(
__ALLOW_LIST__
)
$HvAllowed = New-Object -TypeName 'System.Collections.Generic.Dictionary[string,string]' -ArgumentList @([System.StringComparer]::Ordinal)
foreach ($hvName in $HvAllowList) {
    $HvAllowed[$hvName] = $hvName
}

function ConvertTo-HvPlainValue {
    param($Value, [int]$Depth)

    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [System.Management.Automation.PSObject] -and $Value.PSObject.BaseObject -isnot [System.Management.Automation.PSCustomObject]) {
        $Value = $Value.PSObject.BaseObject
    }
    if ($Value -is [string]) {
        return $Value
    }
    if ($Value -is [char]) {
        return [string]$Value
    }
    if ($Value -is [bool]) {
        return $Value
    }
    if ($Value -is [System.Enum]) {
        return $Value.ToString()
    }
    if ($Value -is [guid]) {
        return $Value.ToString()
    }
    if ($Value -is [datetime]) {
        if ($Value.Kind -eq [System.DateTimeKind]::Utc) {
            return $Value.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffff'+00:00'", [System.Globalization.CultureInfo]::InvariantCulture)
        }
        return $Value.ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($Value -is [System.DateTimeOffset]) {
        return $Value.ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($Value -is [timespan]) {
        return $Value.TotalSeconds
    }
    if ($Value -is [byte] -or $Value -is [sbyte] -or $Value -is [int16] -or $Value -is [uint16] -or
        $Value -is [int32] -or $Value -is [uint32] -or $Value -is [int64] -or $Value -is [uint64] -or
        $Value -is [single] -or $Value -is [double] -or $Value -is [decimal]) {
        return $Value
    }
    if ($Value -is [version] -or $Value -is [uri]) {
        return $Value.ToString()
    }
    if ($Value -is [System.Collections.IDictionary]) {
        if ($Depth -ge 1) {
            return $Value.ToString()
        }
        $dict = [ordered]@{}
        foreach ($key in $Value.Keys) {
            $dict[[string]$key] = ConvertTo-HvPlainValue -Value $Value[$key] -Depth ($Depth + 1)
        }
        return $dict
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $list = New-Object -TypeName 'System.Collections.Generic.List[object]'
        foreach ($item in $Value) {
            $list.Add((ConvertTo-HvPlainValue -Value $item -Depth $Depth))
        }
        return , $list
    }
    if ($Depth -ge 1) {
        return $Value.ToString()
    }
    $props = [ordered]@{}
    foreach ($prop in $Value.PSObject.Properties) {
        $propValue = $null
        try {
            $propValue = $prop.Value
        }
        catch {
            $propValue = $null
        }
        $props[$prop.Name] = ConvertTo-HvPlainValue -Value $propValue -Depth ($Depth + 1)
    }
    return $props
}

function ConvertTo-HvErrorInfo {
    param($Record)

    $message = $null
    if ($null -ne $Record.ErrorDetails -and -not [string]::IsNullOrEmpty($Record.ErrorDetails.Message)) {
        $message = [string]$Record.ErrorDetails.Message
    }
    elseif ($null -ne $Record.Exception) {
        $message = [string]$Record.Exception.Message
    }
    $target = $null
    if ($null -ne $Record.TargetObject) {
        $target = [string]$Record.TargetObject
    }
    $exceptionType = $null
    if ($null -ne $Record.Exception) {
        $exceptionType = $Record.Exception.GetType().FullName
    }
    return [ordered]@{
        fqid = [string]$Record.FullyQualifiedErrorId
        category = [string]$Record.CategoryInfo.Category
        message = $message
        target = $target
        exception = $exceptionType
    }
}

function New-HvRefusal {
    param([string]$Name)

    return [ordered]@{
        fqid = 'CommandNotAllowed,HyperV.Checkpoints.Runner'
        category = 'PermissionDenied'
        message = ('The command ''{0}'' is not on the runner allow-list.' -f $Name)
        target = $Name
        exception = 'System.Management.Automation.CommandNotFoundException'
    }
}

function Invoke-HvPipeline {
    param($Pipeline)

    $output = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $errors = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $state = 'Completed'
    $stages = New-Object -TypeName 'System.Collections.Generic.List[object]'

    foreach ($command in @($Pipeline)) {
        $requested = [string]$command.cmdlet
        $allowedName = $null
        if (-not $HvAllowed.TryGetValue($requested, [ref]$allowedName)) {
            $errors.Add((New-HvRefusal -Name $requested))
            return [ordered]@{ output = $output; errors = $errors; state = 'Failed' }
        }
        $splat = @{}
        foreach ($pair in @($command.parameters)) {
            $splat[[string]$pair[0]] = $pair[1]
        }
        $splat['ErrorAction'] = 'Continue'
        $stages.Add([ordered]@{ name = $allowedName; parameters = $splat })
    }

    $carried = @()
    try {
        for ($index = 0; $index -lt $stages.Count; $index++) {
            $stage = $stages[$index]
            $stageName = [string]$stage.name
            $stageParameters = $stage.parameters
            if ($index -eq 0) {
                $items = @(& $stageName @stageParameters 2>&1)
            }
            else {
                $items = @($carried | & $stageName @stageParameters 2>&1)
            }
            $next = New-Object -TypeName 'System.Collections.Generic.List[object]'
            foreach ($item in $items) {
                if ($item -is [System.Management.Automation.ErrorRecord]) {
                    $errors.Add((ConvertTo-HvErrorInfo -Record $item))
                }
                else {
                    $next.Add($item)
                }
            }
            $carried = $next.ToArray()
        }
        foreach ($item in $carried) {
            $output.Add((ConvertTo-HvPlainValue -Value $item -Depth 0))
        }
    }
    catch {
        $errors.Add((ConvertTo-HvErrorInfo -Record $_))
        $state = 'Failed'
    }
    return [ordered]@{ output = $output; errors = $errors; state = $state }
}

try {
    $requestJson = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($RequestBase64))
    $request = ConvertFrom-Json -InputObject $requestJson
    if ($request.version -ne 1) {
        throw 'Unsupported request version.'
    }
    $results = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($pipeline in @($request.pipelines)) {
        $results.Add((Invoke-HvPipeline -Pipeline $pipeline))
    }
    $document = [ordered]@{ version = 1; results = $results }
    $json = ConvertTo-Json -InputObject $document -Depth 16 -Compress
    $ascii = [regex]::Replace($json, '[^\x00-\x7F]', { param($match) '\u{0:x4}' -f [int][char]$match.Value })
    [System.Console]::Out.Write($ascii)
    exit 0
}
catch {
    [System.Console]::Error.WriteLine(('hyperv.checkpoints runner failed: {0}' -f $_.Exception.Message))
    exit 1
}
""".replace("__ALLOW_LIST__", _ALLOW_LIST_PS)

RUNNER_SHA256 = hashlib.sha256(RUNNER_SCRIPT.encode("utf-8")).hexdigest()

BOOTSTRAP_SCRIPT = r"""$ErrorActionPreference = 'Stop'
$hvLines = @(foreach ($hvLine in $input) { $hvText = ([string]$hvLine).Trim(); if ($hvText.Length -gt 0) { $hvText } })
if ($hvLines.Count -lt 2) { [System.Console]::Error.WriteLine('hyperv.checkpoints bootstrap: expected 2 stdin lines'); exit 2 }
$hvBytes = [System.Convert]::FromBase64String($hvLines[0])
$hvSha = [System.Security.Cryptography.SHA256]::Create()
$hvDigest = [System.BitConverter]::ToString($hvSha.ComputeHash($hvBytes)).Replace('-', '').ToLowerInvariant()
if ($hvDigest -cne '__RUNNER_SHA256__') { [System.Console]::Error.WriteLine('hyperv.checkpoints bootstrap: runner digest mismatch'); exit 3 }
$hvRunner = [System.Management.Automation.ScriptBlock]::Create([System.Text.Encoding]::UTF8.GetString($hvBytes))
& $hvRunner $hvLines[1]
exit $LASTEXITCODE
""".replace("__RUNNER_SHA256__", RUNNER_SHA256)

POWERSHELL_EXE = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")

PROTOCOL_VERSION = 1


def encoded_bootstrap():
    """base64(UTF-16LE(BOOTSTRAP_SCRIPT)), the value of -EncodedCommand."""
    return base64.b64encode(BOOTSTRAP_SCRIPT.encode("utf-16-le")).decode("ascii")


def command_arguments():
    """The arguments of powershell.exe (contracts.md section 4)."""
    return list(POWERSHELL_ARGS) + [encoded_bootstrap()]


def build_request(pipelines):
    return {"version": PROTOCOL_VERSION, "pipelines": pipelines}


def build_stdin(pipelines):
    """``base64(RUNNER_SCRIPT) + "\\n" + base64(utf8(json(request))) + "\\n"`` (ASCII)."""
    request = json.dumps(build_request(pipelines), ensure_ascii=False, separators=(",", ":"))
    return "%s\n%s\n" % (
        base64.b64encode(RUNNER_SCRIPT.encode("utf-8")).decode("ascii"),
        base64.b64encode(request.encode("utf-8")).decode("ascii"),
    )


def parse_stdout(stdout, expected):
    """Parse the runner's JSON document; ValueError when it is not the expected shape."""
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", errors="replace")
    text = stdout.strip().lstrip("\ufeff")
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("version") != PROTOCOL_VERSION:
        raise ValueError("runner output has no version %d document" % PROTOCOL_VERSION)
    results = doc.get("results")
    if not isinstance(results, list) or len(results) != expected:
        raise ValueError("runner returned %s results for %d pipelines" % (
            len(results) if isinstance(results, list) else "no", expected))
    return results
