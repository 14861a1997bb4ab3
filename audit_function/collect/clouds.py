"""Where Resource Graph and Microsoft Graph live for each cloud, which token scope each takes, and how
TLS is trusted."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from audit_function.errors import CollectionError

#: cloud -> (ARM endpoint, Entra authority host)
CLOUDS = {
    "public": ("https://management.azure.com", "login.microsoftonline.com"),
    "usgov": ("https://management.usgovcloudapi.net", "login.microsoftonline.us"),
    "china": ("https://management.chinacloudapi.cn", "login.chinacloudapi.cn"),
}
ENDPOINT_ENV = "KV_AUDIT_ARM_ENDPOINT"
#: cloud -> Microsoft Graph service root (learn.microsoft.com/graph/deployments: "Microsoft Graph and
#: Graph Explorer service root endpoints"; US Government L4 = GCC High; L5 (DoD) is
#: https://dod-graph.microsoft.us, reachable through KV_AUDIT_GRAPH_ENDPOINT).
GRAPH = {
    "public": "https://graph.microsoft.com",
    "usgov": "https://graph.microsoft.us",
    "china": "https://microsoftgraph.chinacloudapi.cn",
}
GRAPH_ENDPOINT_ENV = "KV_AUDIT_GRAPH_ENDPOINT"
CA_BUNDLE_ENVS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class Target:
    cloud: str
    endpoint: str          # ARM base URL the requests go to
    token_scope: str       # what the credential is asked for
    authority: str         # Entra authority host for DefaultAzureCredential


def resolve(cloud: str, endpoint: str | None = None) -> Target:
    """Endpoint: the argument, else $KV_AUDIT_ARM_ENDPOINT, else the cloud's ARM endpoint."""
    if cloud not in CLOUDS:
        raise CollectionError(f"unknown cloud {cloud!r}: use one of {', '.join(CLOUDS)}")
    arm, authority = CLOUDS[cloud]
    where = "endpoint argument"
    if not endpoint and os.environ.get(ENDPOINT_ENV, "").strip():
        endpoint, where = os.environ[ENDPOINT_ENV].strip(), ENDPOINT_ENV
    url = (endpoint or arm).rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise CollectionError(f"{where}: {url!r} is not an https:// URL (Azure Resource Manager only "
                              "takes bearer tokens over TLS)")
    return Target(cloud, url, f"{arm}/.default", authority)


@dataclass(frozen=True)
class GraphTarget:
    endpoint: str | None   # Graph service root the requests go to; None = no known endpoint
    token_scope: str       # always the cloud's Graph resource, also when the endpoint is overridden
    why_not: str = ""      # when endpoint is None: why directory data is not read


def graph(target: Target, endpoint: str | None = None) -> GraphTarget:
    """Graph endpoint: the argument, else $KV_AUDIT_GRAPH_ENDPOINT, else the cloud's. When the
    Resource Manager endpoint was overridden and no Graph endpoint is given there is no Graph to
    assume (a private or test ARM has no known directory twin): ``endpoint`` is None."""
    root = GRAPH[target.cloud]
    scope = f"{root}/.default"
    where = "Graph endpoint argument"
    if not endpoint and os.environ.get(GRAPH_ENDPOINT_ENV, "").strip():
        endpoint, where = os.environ[GRAPH_ENDPOINT_ENV].strip(), GRAPH_ENDPOINT_ENV
    if not endpoint:
        if target.endpoint != CLOUDS[target.cloud][0]:
            return GraphTarget(None, scope, f"the Resource Manager endpoint is overridden ({target.endpoint}) "
                               f"and no Microsoft Graph endpoint is set ({GRAPH_ENDPOINT_ENV})")
        return GraphTarget(root, scope)
    url = endpoint.rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise CollectionError(f"{where}: {url!r} is not an https:// URL (Microsoft Graph only takes "
                              "bearer tokens over TLS)")
    return GraphTarget(url, scope)


def connection_verify(value=None):
    """TLS trust: the argument if given, else a CA bundle named by REQUESTS_CA_BUNDLE or
    SSL_CERT_FILE, else the default trust store (True)."""
    if value is not None:
        return value
    for name in CA_BUNDLE_ENVS:
        path = os.environ.get(name, "").strip()
        if path:
            if not os.path.isfile(path):
                raise CollectionError(f"{name}={path!r}: no such CA bundle file")
            return path
    return True


def default_credential(target: Target):
    """DefaultAzureCredential: managed identity in the Function; CLI or environment on a laptop."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(authority=target.authority)
