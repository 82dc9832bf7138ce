"""The Kubernetes sandbox provider: one Pod per session, made from a PodTemplate in the
sandbox namespace, with a Secret of its own (its executor credential and VNC password).

- acquire: claims a warm Pod (a label patch carrying the Pod's resourceVersion, so of two
  replicas claiming the same Pod one gets 409 and tries the next), else creates the
  Secret and the Pod and watches the Pod until it is Ready. Every Pod is labelled with
  its state and, once claimed, its session.
- release deletes the Pod and its Secret (the Secret is also owned by the Pod, so the
  garbage collector deletes it should the orchestrator not get to it).
- wait_gone watches the Pod until it ends (evicted, deadline, a container exited) or is
  deleted, and says why.
- The warm pool (pool_size Pods per template, shared by every replica) refills after
  each claim; warm Pods past warm_max_age are replaced.
- sweep deletes sandbox Pods whose session no longer exists, and Secrets whose Pod is
  gone: what an orchestrator killed mid-session leaves behind.

Pods outlive the replica that made them: a replica that stops leaves its sessions' Pods
running, so the replica that takes a session over attaches to its desktop.

kubernetes_asyncio rather than the blocking official client in threads: a session's
watch on its Pod lives as long as the session and is cancelled with it, which a thread
blocked in a watch cannot be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.watch import Watch

from deskpilot.common.errors import DeadlineExceeded, InvalidArgument, ServiceError, Unavailable
from deskpilot.common.sandbox_credential import new_credential
from deskpilot.orchestrator.sandboxes import kube_pods as pods
from deskpilot.orchestrator.sandboxes.kube_errors import service_error
from deskpilot.orchestrator.sandboxes.settings import KubernetesProviderSettings
from deskpilot.v1 import common_pb2, session_pb2

log = logging.getLogger("deskpilot.orchestrator.kubernetes")
Object = dict[str, Any]
# A watch ends after this long and is opened again (from where it was): the API server
# closes long watches itself, and a fresh one notices a vanished connection.
_WATCH_SECONDS = 240
# A Secret younger than this may belong to a Pod still being created: the sweep keeps it.
_ORPHAN_GRACE_SECONDS = 120.0
_VNC_PASSWORD_BYTES = 6  # 8 characters: all a VNC password keeps
_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


class KubernetesSandboxProvider:
    """Hands out sandbox Pods in one namespace (see the module doc)."""

    stops_on_release = True

    def __init__(
        self,
        configuration: k8s.Configuration | None = None,
        *,
        namespace: str = "deskpilot-sandboxes",
        pod_template: str = "sandbox",
        pool_size: int = 1,
        default_size: tuple[int, int] = (1280, 800),
        ready_timeout: float = 180.0,
        warm_max_age: float = 1800.0,
        sweep_interval: float = 60.0,
        kubeconfig: str = "",
        context: str = "",
    ) -> None:
        """`configuration`: how to reach the API server; None: from `kubeconfig`, else
        in-cluster (loaded at first use)."""
        self.namespace = namespace
        self.pod_template = pod_template
        self.pool_size = pool_size
        self.default_size = default_size
        self.ready_timeout = ready_timeout
        self.warm_max_age = warm_max_age
        self.sweep_interval = sweep_interval
        self._configuration = configuration
        self._kubeconfig = kubeconfig
        self._context = context
        self._api: k8s.ApiClient | None = None
        self._connecting = asyncio.Lock()
        self._filling: asyncio.Task[None] | None = None
        self._sweeping: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls, settings: KubernetesProviderSettings, default_size: tuple[int, int]
    ) -> KubernetesSandboxProvider:
        return cls(
            namespace=settings.namespace,
            pod_template=settings.pod_template,
            pool_size=settings.pool_size,
            default_size=default_size,
            ready_timeout=settings.ready_timeout_seconds,
            warm_max_age=settings.warm_max_age_seconds,
            sweep_interval=settings.sweep_interval_seconds,
            kubeconfig=settings.kubeconfig,
            context=settings.context,
        )

    # -- the protocol ------------------------------------------------------------------------

    async def acquire(
        self, session_id: str, display: common_pb2.Size, template: str
    ) -> session_pb2.ProvisionedSandbox:
        name = self.pod_template if template in ("", "default") else template
        if not _is_dns_name(name):
            raise InvalidArgument(f"sandbox template {name!r} is no PodTemplate name")
        size = (display.width, display.height) if display.width else self.default_size
        sandbox = None
        if name == self.pod_template and size == self.default_size:
            sandbox = await self.claim_warm(session_id)
        if sandbox is None:
            sandbox = await self._start(name, size, session_id)
        self.fill_pool()
        log.info("session %s runs in pod %s", session_id, sandbox.endpoints.sandbox_id)
        return sandbox

    async def release(self, endpoints: session_pb2.SandboxEndpoints) -> None:
        if endpoints.sandbox_id:
            await self._delete(endpoints.sandbox_id)

    async def wait_gone(self, endpoints: session_pb2.SandboxEndpoints) -> str | None:
        name = endpoints.sandbox_id
        try:
            async for pod in self._pod_events(name):
                state = pods.pod_state(pod)
                if state.failed:
                    return f"sandbox pod {name} {state.reason}"
        except (ApiException, OSError) as exc:
            # Cannot watch (API down, rights gone): an executor error is all we learn.
            log.warning("cannot watch pod %s: %s", name, service_error(exc, "watch", ""))
        return None

    async def close(self) -> None:
        """Stop filling and sweeping; the Pods stay (see the module doc)."""
        for task in (self._filling, self._sweeping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._api is not None:
            await self._api.close()
            self._api = None

    # -- warm pool -----------------------------------------------------------------------------

    def fill_pool(self) -> None:
        """Create warm Pods in the background until the pool is full."""
        if self.pool_size and (self._filling is None or self._filling.done()):
            self._filling = asyncio.create_task(self._fill())

    async def wait_for_pool(self) -> None:
        """Until the pool is full of Ready Pods (benchmarks and tests)."""
        if self._filling is not None:
            await asyncio.gather(self._filling, return_exceptions=True)

    async def claim_warm(self, session_id: str) -> session_pb2.ProvisionedSandbox | None:
        """A Ready warm Pod of the default template, now the session's; None if there is none."""
        core = await self._core()
        try:
            listed = await core.list_namespaced_pod(
                self.namespace, label_selector=pods.selector(self._warm_labels())
            )
        except ApiException as exc:
            raise service_error(exc, "list warm sandbox pods", self.namespace) from None
        candidates = [self._plain(p) for p in listed.items]
        ready = [p for p in candidates if pods.pod_state(p).ready and not self._too_old(p)]
        ready.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        for pod in ready:
            name = pod["metadata"]["name"]
            patch = {
                "metadata": {
                    # The precondition: the claim applies only to the Pod as listed.
                    "resourceVersion": pod["metadata"]["resourceVersion"],
                    "labels": {
                        pods.STATE_LABEL: pods.CLAIMED,
                        pods.SESSION_LABEL: pods.session_label(session_id),
                    },
                }
            }
            try:
                claimed = await core.patch_namespaced_pod(
                    name, self.namespace, patch, _content_type="application/merge-patch+json"
                )
            except ApiException as exc:
                if exc.status in (404, 409):  # another replica was first: the next one
                    continue
                raise service_error(exc, "claim a warm sandbox pod", self.namespace) from None
            pod = self._plain(claimed)
            secret = await self._read_secret(_secret_name(name))
            return session_pb2.ProvisionedSandbox(
                endpoints=pods.endpoints(pod), secrets=pods.secret_values(secret)
            )
        return None

    async def _fill(self) -> None:
        try:
            core = await self._core()
            listed = await core.list_namespaced_pod(
                self.namespace, label_selector=pods.selector(self._warm_labels())
            )
            warm = [self._plain(p) for p in listed.items]
            for pod in warm:
                if self._too_old(pod) or pods.pod_state(pod).failed:
                    await self._delete(pod["metadata"]["name"])
            alive = [p for p in warm if not self._too_old(p) and not pods.pod_state(p).failed]
            missing = self.pool_size - len(alive)
            if missing > 0:
                await asyncio.gather(
                    *(self._start(self.pod_template, self.default_size, "") for _ in range(missing))
                )
        except (ServiceError, ApiException, OSError) as exc:
            log.warning("could not fill the warm pool: %s", service_error(exc, "fill", ""))

    def _warm_labels(self) -> dict[str, str]:
        return {
            pods.MANAGED_BY[0]: pods.MANAGED_BY[1],
            pods.TEMPLATE_LABEL: self.pod_template,
            pods.SIZE_LABEL: pods.size_label(self.default_size),
            pods.STATE_LABEL: pods.WARM,
        }

    def _too_old(self, pod: Object) -> bool:
        created = pod["metadata"].get("creationTimestamp")
        if not created:
            return False
        born = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        return (datetime.now(UTC) - born).total_seconds() > self.warm_max_age

    # -- sweep -------------------------------------------------------------------------------

    def start_sweeping(self, live_sessions: Callable[[], Awaitable[Iterable[str]]]) -> None:
        """Sweep every sweep_interval seconds, asking `live_sessions` which sessions exist."""
        if self._sweeping is None or self._sweeping.done():
            self._sweeping = asyncio.create_task(self._sweep_forever(live_sessions))

    async def _sweep_forever(self, live_sessions: Callable[[], Awaitable[Iterable[str]]]) -> None:
        while True:
            try:
                await self.sweep(set(await live_sessions()))
            except Exception as exc:  # noqa: BLE001 -- the store or the API is down: next round
                log.warning("sandbox sweep skipped: %s", exc)
            await asyncio.sleep(self.sweep_interval)

    async def sweep(self, live_session_ids: set[str]) -> list[str]:
        """Delete claimed Pods whose session is not in `live_session_ids`, and Secrets
        whose Pod is gone; the names of the Pods deleted."""
        core = await self._core()
        managed = pods.selector({pods.MANAGED_BY[0]: pods.MANAGED_BY[1]})
        try:
            listed = await core.list_namespaced_pod(self.namespace, label_selector=managed)
            secret_list = await core.list_namespaced_secret(self.namespace, label_selector=managed)
        except ApiException as exc:
            raise service_error(exc, "list sandbox pods", self.namespace) from None
        live = {pods.session_label(s) for s in live_session_ids}
        swept = []
        names = set()
        for pod in (self._plain(p) for p in listed.items):
            labels = pod["metadata"].get("labels") or {}
            name = pod["metadata"]["name"]
            names.add(name)
            if (
                labels.get(pods.STATE_LABEL) == pods.CLAIMED
                and labels.get(pods.SESSION_LABEL) not in live
            ):
                log.info("sweep: pod %s belongs to no live session", name)
                await self._delete(name)
                swept.append(name)
        now = time.time()
        for secret in secret_list.items:
            owner = (secret.metadata.labels or {}).get(pods.POD_LABEL)
            age = now - secret.metadata.creation_timestamp.timestamp()
            if owner and owner not in names and age > _ORPHAN_GRACE_SECONDS:
                await self._delete_secret(secret.metadata.name)
        return swept

    # -- one Pod -------------------------------------------------------------------------------

    async def _start(
        self, template_name: str, size: tuple[int, int], session_id: str
    ) -> session_pb2.ProvisionedSandbox:
        """A new Pod (warm when `session_id` is empty), Ready."""
        core = await self._core()
        template = await self._read_template(template_name)
        name = f"sandbox-{secrets.token_hex(5)}"
        secret_name = _secret_name(name)
        credential = new_credential()
        vnc_password = secrets.token_urlsafe(_VNC_PASSWORD_BYTES)[:8]
        manifest = pods.pod_manifest(
            template, name=name, template_name=template_name, secret_name=secret_name,
            size=size, session_id=session_id,
        )  # fmt: skip
        try:
            # The Secret first: the Pod mounts it from its first moment.
            await core.create_namespaced_secret(
                self.namespace, pods.secret_manifest(secret_name, name, credential, vnc_password)
            )
        except ApiException as exc:
            raise service_error(exc, "create the sandbox's secret", self.namespace) from None
        try:
            created = self._plain(await core.create_namespaced_pod(self.namespace, manifest))
        except ApiException as exc:
            await self._delete_secret(secret_name)
            raise service_error(
                exc, f"create a sandbox pod from PodTemplate {template_name}", self.namespace
            ) from None
        try:
            await core.patch_namespaced_secret(
                secret_name,
                self.namespace,
                {"metadata": {"ownerReferences": [pods.owner_reference(created)]}},
                _content_type="application/merge-patch+json",
            )
            pod = await self._until_ready(name)
        except BaseException as exc:
            await asyncio.shield(self._delete(name))
            if isinstance(exc, ApiException):
                raise service_error(exc, "start the sandbox pod", self.namespace) from None
            raise
        return session_pb2.ProvisionedSandbox(
            endpoints=pods.endpoints(pod),
            secrets=session_pb2.SandboxSecrets(
                executor_credential=credential, vnc_password=vnc_password
            ),
        )

    async def _until_ready(self, name: str) -> Object:
        """The Pod once Ready, watched; Unavailable (why) once it cannot be."""
        waiting = "Pending"

        async def ready() -> Object:
            nonlocal waiting
            async for pod in self._pod_events(name):
                state = pods.pod_state(pod)
                if state.ready and pod is not None:
                    return pod
                if state.failed:
                    raise _pod_error(name, state.reason)
                waiting = state.reason or waiting
            raise _pod_error(name, "was deleted")

        try:
            return await asyncio.wait_for(ready(), self.ready_timeout)
        except TimeoutError:
            raise DeadlineExceeded(
                f"sandbox pod {name} was not ready within {self.ready_timeout:g} s ({waiting})"
            ) from None

    async def _pod_events(self, name: str) -> AsyncIterator[Object | None]:
        """The Pod as it is now, then after every change (None: deleted), until it is
        deleted: a list, then a watch from the list's resourceVersion, again after each
        watch ends."""
        core = await self._core()
        field = f"metadata.name={name}"
        while True:
            listed = await core.list_namespaced_pod(self.namespace, field_selector=field)
            current = [self._plain(p) for p in listed.items]
            yield current[0] if current else None
            if not current:
                return
            watch = Watch()
            try:
                async for event in watch.stream(
                    core.list_namespaced_pod, self.namespace, field_selector=field,
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=_WATCH_SECONDS,
                ):  # fmt: skip
                    if event["type"] == "DELETED":
                        yield None
                        return
                    if event["type"] in ("ADDED", "MODIFIED"):
                        yield event["raw_object"]
            except ApiException as exc:
                if exc.status != 410:  # 410: too old a version; list again
                    raise
            finally:
                await watch.close()

    async def _delete(self, name: str) -> None:
        core = await self._core()
        with contextlib.suppress(ApiException):  # gone already
            await core.delete_namespaced_pod(name, self.namespace)
        await self._delete_secret(_secret_name(name))

    async def _delete_secret(self, name: str) -> None:
        core = await self._core()
        with contextlib.suppress(ApiException):
            await core.delete_namespaced_secret(name, self.namespace)

    async def _read_template(self, name: str) -> Object:
        core = await self._core()
        try:
            template = await core.read_namespaced_pod_template(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise InvalidArgument(
                    f"no sandbox template {name!r} (PodTemplate) in namespace {self.namespace}"
                ) from None
            raise service_error(exc, f"read PodTemplate {name}", self.namespace) from None
        return self._plain(template)

    async def _read_secret(self, name: str) -> Object:
        core = await self._core()
        try:
            return self._plain(await core.read_namespaced_secret(name, self.namespace))
        except ApiException as exc:
            raise service_error(exc, f"read secret {name}", self.namespace) from None

    # -- the API client ------------------------------------------------------------------------

    async def _core(self) -> k8s.CoreV1Api:
        if self._api is None:
            async with self._connecting:
                if self._api is None:
                    self._api = k8s.ApiClient(await self._load_configuration())
        return k8s.CoreV1Api(self._api)

    async def _load_configuration(self) -> k8s.Configuration:
        if self._configuration is not None:
            return self._configuration
        configuration = k8s.Configuration()
        try:
            if self._kubeconfig:
                await k8s_config.load_kube_config(
                    config_file=self._kubeconfig,
                    context=self._context or None,
                    client_configuration=configuration,
                )
            else:
                k8s_config.load_incluster_config(client_configuration=configuration)
        except (k8s_config.ConfigException, OSError) as exc:
            raise service_error(exc, "load the Kubernetes configuration", self.namespace) from None
        return configuration

    def _plain(self, model: Any) -> Object:
        """An API model as the API's own dict."""
        assert self._api is not None
        return self._api.sanitize_for_serialization(model)


def _secret_name(pod_name: str) -> str:
    return f"{pod_name}-session"


def _pod_error(name: str, reason: str) -> ServiceError:
    return Unavailable(f"sandbox pod {name} {reason}")


def _is_dns_name(name: str) -> bool:
    return bool(_DNS_NAME.fullmatch(name))
