"""Loading our Alertmanager config into the older Alertmanager tools Debian ships.

The stack pins v0.34, which reads the webhook URL from `url_file` (alertmanager@v0.34.0
notify/webhook/config.go:40). That key arrived in v0.26; Debian bookworm's amtool and
alertmanager are 0.25 and refuse it. Validators and the smoke test run those, so for them alone
the webhook URL is written inline. Slack's `api_url_file` (since 0.22) stays as it is.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import Any, Final

URL_FILE_SINCE: Final = (0, 26)


def tool_version(tool: str) -> tuple[int, int]:
    """(major, minor) that an Alertmanager binary or amtool reports."""
    result = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"version (\d+)\.(\d+)", result.stdout + result.stderr)
    if match is None:
        raise ValueError(f"{tool} --version printed no version: {result.stdout}{result.stderr}")
    return int(match[1]), int(match[2])


def for_release(config: dict[str, Any], version: tuple[int, int],
                url_for: Callable[[str], str]) -> dict[str, Any]:
    """The config as `version` can load it; `url_for(path)` gives the URL a url_file holds."""
    if version >= URL_FILE_SINCE:
        return config
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = url_for(webhook.pop("url_file"))
    return config
