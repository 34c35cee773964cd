"""Uploads the built dashboards and the ClickHouse datasource to a Grafana over its HTTP API.

Idempotent: the folder and the datasource are created when missing and updated in place when
present (matched by uid); dashboards are saved with overwrite, so a second push changes nothing
but Grafana's version counter.
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from .build import FOLDER, OUT

FOLDER_UID = "cdrflow"


def _exists(fetch) -> bool:
    try:
        fetch()
        return True
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise


def datasource_settings(provisioned: dict, password: str | None) -> dict:
    """The provisioning entry as the HTTP API takes it: access proxy, the password only if given."""
    body = {k: v for k, v in provisioned.items() if k not in ("secureJsonData", "editable")}
    body["access"] = "proxy"
    if password:
        body["secureJsonData"] = {"password": password}
    return body


def push(grafana_url: str, credential: str | tuple[str, str] | None = None, source: Path = OUT,
         clickhouse_password: str | None = None) -> list[str]:
    """Pushes folder, datasource and every json/*.json under `source`; returns the dashboard uids."""
    import yaml

    api = GrafanaApi.from_url(grafana_url, credential=credential)
    if not _exists(lambda: api.folder.get_folder(FOLDER_UID)):
        api.folder.create_folder(FOLDER, uid=FOLDER_UID)
    provisioned = yaml.safe_load((source / "provisioning" / "datasources" / "cdrflow.yaml").read_text())
    for entry in provisioned["datasources"]:
        body = datasource_settings(entry, clickhouse_password)
        if _exists(partial(api.datasource.get_datasource_by_uid, entry["uid"])):
            api.datasource.update_datasource_by_uid(entry["uid"], body)
        else:
            api.datasource.create_datasource(body)
    pushed = []
    for path in sorted((source / "json").glob("*.json")):
        document = json.loads(path.read_text())
        api.dashboard.update_dashboard({"dashboard": document, "folderUid": FOLDER_UID, "overwrite": True,
                                        "message": "cdrflow dashboards push"})
        pushed.append(document["uid"])
    return pushed
