"""A node for a bare API server: what a kubelet (and a scheduler) would do, done small.

No kubelet runs here, so this agent registers a Node, binds unscheduled Pods to it when
their nodeSelector fits its labels (else marks them Unschedulable, as the scheduler
would), and runs each Pod bound to it for real, as local processes:

- Every Pod gets an address of its own in 127.0.0.0/8 (the Pod network, on loopback),
  so Pods keep the ports their spec names; a container told to listen on 0.0.0.0 (all
  of the Pod's addresses) listens on the Pod's address.
- Volumes are folders (Secret volumes hold the Secret's items, with their mode); each
  path under a mount, in a container's command, args or environment, is moved there.
- Images are programs: `deskpilot/sandbox` is the sandbox start script
  (`python -m deskpilot.sandbox`) with its executors, run as the unprivileged sandbox
  user as the local provider runs it; a container's own command runs as given. An image
  it does not have fails to pull (ErrImagePull), as on a node without the image.
- Init containers run first, in order; then the containers. Readiness is the container's
  exec readinessProbe, run every periodSeconds; status goes to the API as a kubelet
  reports it (phase, podIP, conditions, container states).
- A Pod being deleted is stopped, then removed (grace 0), as a kubelet finishes a
  deletion; a process that exits ends the Pod (restartPolicy Never); `evict` fails a Pod
  the way the kubelet's eviction does (phase Failed, reason Evicted).

It runs its own event loop in a thread, so it goes on while a test's loop waits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import os
import shutil
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.watch import Watch

from deskpilot.common.environment import SYSTEM_PATH, allowed_environment
from deskpilot.common.processes import AsyncChild, spawn_async
from deskpilot.common.sandbox_user import sandbox_python

log = logging.getLogger("tests.kube_node")
Object = dict[str, Any]
SANDBOX_IMAGE = "deskpilot/sandbox"
_STOP_GRACE_SECONDS = 10.0
_WATCH_SECONDS = 120


@dataclass
class _RunningPod:
    namespace: str
    name: str
    uid: str
    ip: str
    folder: Path
    processes: dict[str, AsyncChild] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    stopping: bool = False


class KubeNode:
    """One node named `name`, serving Pods of every namespace (see the module doc)."""

    def __init__(
        self,
        configuration: k8s.Configuration,
        work_dir: Path,
        *,
        name: str = "test-node",
        labels: dict[str, str] | None = None,
        sandbox_user: str = "deskpilot",
    ) -> None:
        self.configuration = configuration
        self.work_dir = work_dir
        self.name = name
        self.labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            **(labels or {}),
        }
        self.sandbox_user = sandbox_user
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kube-node", daemon=True
        )
        self._api: k8s.ApiClient | None = None
        self._pods: dict[str, _RunningPod] = {}  # uid -> pod
        self._addresses = (f"127.42.{i // 250}.{i % 250 + 1}" for i in itertools.count())
        self._watching: asyncio.Task[None] | None = None

    # -- from the test's thread ----------------------------------------------------------------

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.chmod(0o711)  # the sandbox user reaches its Pods' folders below
        self._thread.start()
        self.call(self._start()).result(timeout=30)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self._stop()).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def call(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run `coroutine` on the node's loop (await it with asyncio.wrap_future)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def running(self, namespace: str, name: str) -> bool:
        """Whether a Pod of that name has processes running on this node."""
        return any(
            p.namespace == namespace
            and p.name == name
            and any(c.running for c in p.processes.values())
            for p in list(self._pods.values())
        )

    async def evict(self, namespace: str, name: str, message: str) -> None:
        """Fail the Pod as the kubelet's eviction does: stop it, phase Failed, Evicted."""
        pod = next(p for p in self._pods.values() if p.namespace == namespace and p.name == name)
        pod.stopping = True
        await self._stop_processes(pod)
        await self._report(pod, {"phase": "Failed", "reason": "Evicted", "message": message,
                                 "conditions": _conditions(ready=False)})  # fmt: skip

    # -- on the node's loop --------------------------------------------------------------------

    async def _start(self) -> None:
        self._api = k8s.ApiClient(self.configuration)
        core = k8s.CoreV1Api(self._api)
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": self.labels},
        }
        with contextlib.suppress(ApiException):  # left by an earlier run: reuse it
            await core.create_node(node)
        now = _now()
        await core.patch_node_status(
            self.name,
            {"status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "test node agent", "lastHeartbeatTime": now,
                                "lastTransitionTime": now}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "250",
                             "ephemeral-storage": "500Gi"},
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250",
                                "ephemeral-storage": "500Gi"},
            }},
            _content_type="application/merge-patch+json",
        )  # fmt: skip
        listed = await core.list_pod_for_all_namespaces()
        for pod in listed.items:
            await self._seen(self._api.sanitize_for_serialization(pod))
        self._watching = asyncio.create_task(self._watch(listed.metadata.resource_version))

    async def _stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
        for pod in list(self._pods.values()):
            pod.stopping = True
            if pod.task is not None:
                pod.task.cancel()
            await self._stop_processes(pod)
        if self._api is not None:
            await self._api.close()

    async def _watch(self, version: str) -> None:
        assert self._api is not None
        core = k8s.CoreV1Api(self._api)
        while True:
            watch = Watch()
            try:
                async for event in watch.stream(
                    core.list_pod_for_all_namespaces, resource_version=version,
                    timeout_seconds=_WATCH_SECONDS,
                ):  # fmt: skip
                    pod = event["raw_object"]
                    version = pod["metadata"]["resourceVersion"]
                    if event["type"] == "DELETED":
                        await self._gone(pod)
                    else:
                        await self._seen(pod)
            except ApiException as exc:
                if exc.status != 410:
                    log.warning("node watch failed: %s", exc)
                    await asyncio.sleep(1)
                version = (await core.list_pod_for_all_namespaces()).metadata.resource_version
            except Exception:
                log.exception("node watch failed")
                await asyncio.sleep(1)
            finally:
                await watch.close()

    async def _seen(self, pod: Object) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        node = spec.get("nodeName")
        if not node:
            await self._schedule(pod)
            return
        if node != self.name:
            return
        running = self._pods.get(meta["uid"])
        log.debug("pod %s/%s seen (deleting: %s)", meta["namespace"], meta["name"],
                  bool(meta.get("deletionTimestamp")))  # fmt: skip
        if meta.get("deletionTimestamp"):
            await self._finish_deletion(pod, running)
        elif running is None and (pod.get("status") or {}).get("phase") in (None, "", "Pending"):
            running = _RunningPod(meta["namespace"], meta["name"], meta["uid"],
                                  next(self._addresses), self.work_dir / meta["uid"])  # fmt: skip
            self._pods[meta["uid"]] = running
            running.task = asyncio.create_task(self._run(running, pod))

    async def _schedule(self, pod: Object) -> None:
        """The scheduler's part: bind the Pod here if its nodeSelector fits."""
        assert self._api is not None
        core = k8s.CoreV1Api(self._api)
        meta, spec = pod["metadata"], pod["spec"]
        if meta.get("deletionTimestamp"):
            return
        wanted = spec.get("nodeSelector") or {}
        if any(self.labels.get(k) != v for k, v in wanted.items()):
            conditions = (pod.get("status") or {}).get("conditions") or []
            if not any(c.get("reason") == "Unschedulable" for c in conditions):
                message = (
                    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
                )
                with contextlib.suppress(ApiException):
                    await core.patch_namespaced_pod_status(
                        meta["name"], meta["namespace"],
                        {"status": {"phase": "Pending", "conditions": [
                            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": message, "lastTransitionTime": _now()}]}},
                        _content_type="application/merge-patch+json",
                    )  # fmt: skip
            return
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.name},
        }
        with contextlib.suppress(ApiException):  # bound meanwhile, or deleted
            await core.create_namespaced_pod_binding(
                meta["name"], meta["namespace"], binding, _preload_content=False
            )

    async def _finish_deletion(self, pod: Object, running: _RunningPod | None) -> None:
        """A kubelet's end of a graceful deletion: stop the Pod, then remove it."""
        assert self._api is not None
        if running is not None and not running.stopping:
            running.stopping = True
            await self._stop_processes(running)
        try:
            await k8s.CoreV1Api(self._api).delete_namespaced_pod(
                pod["metadata"]["name"], pod["metadata"]["namespace"],
                body={"gracePeriodSeconds": 0, "preconditions": {"uid": pod["metadata"]["uid"]}},
            )  # fmt: skip
        except ApiException as exc:
            log.debug("pod %s: not removed: %s", pod["metadata"]["name"], exc.status)

    async def _gone(self, pod: Object) -> None:
        running = self._pods.pop(pod["metadata"]["uid"], None)
        if running is not None:
            running.stopping = True
            if running.task is not None:
                running.task.cancel()
            await self._stop_processes(running)
            shutil.rmtree(running.folder, ignore_errors=True)

    # -- running a Pod -------------------------------------------------------------------------

    async def _run(self, pod: _RunningPod, manifest: Object) -> None:
        try:
            await self._run_pod(pod, manifest)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("pod %s/%s failed on the node", pod.namespace, pod.name)
            with contextlib.suppress(Exception):
                await self._report(
                    pod, {"phase": "Failed", "reason": "NodeError", "message": str(exc)}
                )

    async def _run_pod(self, pod: _RunningPod, manifest: Object) -> None:
        spec = manifest["spec"]
        started = _now()
        await self._report(pod, {
            "phase": "Pending", "podIP": pod.ip, "podIPs": [{"ip": pod.ip}], "hostIP": "127.0.0.1",
            "startTime": started,
            "conditions": [{"type": "PodScheduled", "status": "True"}, *_conditions(ready=False)],
        })  # fmt: skip
        mounts = await self._volumes(pod, spec)
        containers = spec["containers"]
        inits = spec.get("initContainers") or []
        for init in inits:
            if not _has_program(init):
                await self._report(pod, _image_missing(init, containers, init=True))
                return
            child = await self._spawn(pod, init, mounts, spec)
            code = _exit_code(await child.exited())
            if code != 0:
                await self._report(pod, {"phase": "Failed", "initContainerStatuses": [
                    _terminated_status(init, code)]})  # fmt: skip
                return
        missing = [c for c in containers if not _has_program(c)]
        if missing:
            await self._report(pod, _image_missing(missing[0], containers))
            return
        for container in containers:
            pod.processes[container["name"]] = await self._spawn(pod, container, mounts, spec)
        await self._report(pod, {
            "phase": "Running",
            "initContainerStatuses": [_terminated_status(c, 0) for c in inits],
            "containerStatuses": [_running_status(c, started, ready=False) for c in containers],
        })  # fmt: skip
        await self._until_ready(pod, containers, mounts, started)
        codes = [
            _exit_code(c)
            for c in await asyncio.gather(*(c.exited() for c in pod.processes.values()))
        ]
        if pod.stopping:
            return
        await self._report(pod, {
            "phase": "Failed" if any(codes) else "Succeeded",
            "conditions": _conditions(ready=False),
            "containerStatuses": [
                _terminated_status(c, code) for c, code in zip(containers, codes, strict=True)
            ],
        })  # fmt: skip

    async def _until_ready(
        self, pod: _RunningPod, containers: list[Object], mounts: dict[str, Path], started: str
    ) -> None:
        """Run each readinessProbe until it passes (or a process ends); then Ready."""
        for container in containers:
            probe = (container.get("readinessProbe") or {}).get("exec")
            period = float((container.get("readinessProbe") or {}).get("periodSeconds", 10))
            process = pod.processes[container["name"]]
            while probe and process.running and not pod.stopping:
                command = [_moved(a, mounts) for a in probe["command"]]
                result = await asyncio.create_subprocess_exec(*command)
                if await result.wait() == 0:
                    break
                await asyncio.sleep(period)
        if pod.stopping or not all(p.running for p in pod.processes.values()):
            return
        await self._report(pod, {
            "conditions": [{"type": "PodScheduled", "status": "True"}, *_conditions(ready=True)],
            "containerStatuses": [_running_status(c, started, ready=True) for c in containers],
        })  # fmt: skip

    async def _volumes(self, pod: _RunningPod, spec: Object) -> dict[str, Path]:
        """Mount path → folder, for every container's mounts (volumes made here)."""
        assert self._api is not None
        core = k8s.CoreV1Api(self._api)
        pod.folder.mkdir(parents=True, exist_ok=True)
        pod.folder.chmod(0o711)
        folders: dict[str, Path] = {}
        for volume in spec.get("volumes") or []:
            folder = pod.folder / "volumes" / volume["name"]
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o711)
            source = volume.get("secret")
            if source:
                secret = await core.read_namespaced_secret(source["secretName"], pod.namespace)
                data = secret.data or {}
                items = source.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    target = folder / item["path"]
                    target.write_bytes(base64.b64decode(data[item["key"]]))
                    target.chmod(item.get("mode", source.get("defaultMode", 0o644)))
            folders[volume["name"]] = folder
        mounts: dict[str, Path] = {}
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for mount in container.get("volumeMounts") or []:
                mounts[mount["mountPath"].rstrip("/")] = folders[mount["name"]]
        return mounts

    async def _spawn(
        self, pod: _RunningPod, container: Object, mounts: dict[str, Path], spec: Object
    ) -> AsyncChild:
        env = await self._environment(pod, container, mounts)
        if container.get("command"):
            argv = [_moved(a, mounts) for a in [*container["command"], *container.get("args", [])]]
        else:  # the image's entrypoint
            argv = [sys.executable, "-m", "deskpilot.sandbox",
                    *[_moved(a, mounts) for a in container.get("args", [])]]  # fmt: skip
            # The container's non-root uid, as this machine's sandbox user.
            env["DESKPILOT_SANDBOX_USER"] = self.sandbox_user
            env["DESKPILOT_SANDBOX_EXECUTOR_PYTHON"] = sandbox_python()
        return await spawn_async(
            f"pod {pod.name} container {container['name']}", argv, env=env,
            log_path=pod.folder / f"{container['name']}.log",
        )  # fmt: skip

    async def _environment(
        self, pod: _RunningPod, container: Object, mounts: dict[str, Path]
    ) -> dict[str, str]:
        assert self._api is not None
        core = k8s.CoreV1Api(self._api)
        env = allowed_environment()
        env["PATH"] = os.environ.get("PATH", SYSTEM_PATH)
        if "HOME" in os.environ:
            env["HOME"] = os.environ["HOME"]
        for variable in container.get("env") or []:
            if "value" in variable:
                value = variable["value"]
            else:
                ref = variable["valueFrom"]["secretKeyRef"]
                secret = await core.read_namespaced_secret(ref["name"], pod.namespace)
                value = base64.b64decode((secret.data or {})[ref["key"]]).decode()
            if value == "0.0.0.0":  # all of the Pod's addresses: its one address
                value = pod.ip
            env[variable["name"]] = _moved(value, mounts)
        return env

    async def _stop_processes(self, pod: _RunningPod) -> None:
        await asyncio.gather(*(c.stop(_STOP_GRACE_SECONDS) for c in pod.processes.values()))

    async def _report(self, pod: _RunningPod, status: Object) -> None:
        assert self._api is not None
        with contextlib.suppress(ApiException):  # deleted meanwhile
            await k8s.CoreV1Api(self._api).patch_namespaced_pod_status(
                pod.name, pod.namespace, {"status": status},
                _content_type="application/strategic-merge-patch+json",
            )  # fmt: skip


def _has_program(container: Object) -> bool:
    return (
        bool(container.get("command")) or container.get("image", "").split(":")[0] == SANDBOX_IMAGE
    )


def _image_missing(container: Object, containers: list[Object], *, init: bool = False) -> Object:
    waiting = {
        "name": container["name"], "image": container.get("image", ""), "ready": False,
        "restartCount": 0, "imageID": "",
        "state": {"waiting": {"reason": "ErrImagePull", "message":
                              f"image {container.get('image')!r} is not on node (no registry)"}},
    }  # fmt: skip
    key = "initContainerStatuses" if init else "containerStatuses"
    return {key: [waiting]}


def _exit_code(code: int) -> int:
    """A kubelet's exit code: 128 + the signal for a process killed by one."""
    return 128 - code if code < 0 else code


def _moved(value: str, mounts: dict[str, Path]) -> str:
    """`value` with a path under a mount moved to the mount's folder."""
    for mount in sorted(mounts, key=len, reverse=True):
        if value == mount or value.startswith(mount + "/"):
            return str(mounts[mount]) + value[len(mount) :]
    return value


def _conditions(*, ready: bool) -> list[Object]:
    now = _now()
    flag = "True" if ready else "False"
    return [
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
        {"type": "Ready", "status": flag, "lastTransitionTime": now},
    ]


def _running_status(container: Object, started: str, *, ready: bool) -> Object:
    return {"name": container["name"], "image": container.get("image", ""), "imageID": "",
            "ready": ready, "started": True, "restartCount": 0,
            "state": {"running": {"startedAt": started}}}  # fmt: skip


def _terminated_status(container: Object, code: int) -> Object:
    reason = "Completed" if code == 0 else "Error"
    return {"name": container["name"], "image": container.get("image", ""), "imageID": "",
            "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": reason,
                                     "finishedAt": _now()}}}  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
