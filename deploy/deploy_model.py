"""Reads what the deployment would do, for deploy/test_deploy.py.

Owns: running deploy.sh / teardown.sh in dry-run mode, parsing their "+ " lines
into guarded commands, and parsing cloudbuild.yaml into per-service settings.
Must not: run gcloud or reach the network; the checks live in checks.py.
"""

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field

import yaml

DEPLOY_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(DEPLOY_DIR)

GUARD_EMPTY = re.compile(r'^\+ if \[ -z "\$\((?P<guard>.*)\)" \]; then (?P<action>.*); fi$')
GUARD_EXPECT = re.compile(
    r'^\+ if \[ "\$\((?P<guard>.*)\)" != (?P<expect>\S+) \]; then (?P<action>.*); fi$'
)
GUARD_LINE = re.compile(
    r"^\+ if (?P<neg>! )?(?P<guard>.*) \| grep -qFx (?P<line>\S+); then (?P<action>.*); fi$"
)
CAPTURE = re.compile(r'^\+ (?P<var>[A-Za-z_][A-Za-z0-9_]*)="\$\((?P<cmd>.*)\)"$')
VERBS = {
    "create", "describe", "delete", "update", "enable", "list", "deploy", "submit", "rm",
    "service-agent", "add-iam-policy-binding", "get-iam-policy", "remove-iam-policy-binding",
}
BUILD_GUARD = re.compile(r"^\+ (?P<cmd>.*)  # guard: (?P<note>.*)$")


@dataclass
class Command:
    """One printed command: its argv, and the read-only guard that gates it."""

    argv: list
    guard: list = None
    expect: str = None
    kind: str = "run"  # run | ensure | capture | build-guard

    def flags(self):
        """--key=value flags as a dict of lists (a flag may repeat)."""
        out = {}
        for word in self.argv:
            if word.startswith("--"):
                key, _, value = word[2:].partition("=")
                out.setdefault(key, []).append(value)
        return out

    def flag(self, key):
        values = self.flags().get(key, [])
        return values[0] if values else None

    def path(self):
        """The gcloud command path up to and including its verb, e.g.
        ["eventarc", "triggers", "create"]; the resource name follows it."""
        words = []
        for word in self.argv[1:]:
            if word.startswith("-"):
                break
            words.append(word)
            if word in VERBS:
                return words
        return []


def parse_dry_run(text):
    """Parses dry-run output into Commands; any other "+ " line is an error."""
    commands = []
    for line in text.splitlines():
        if not line.startswith("+ "):
            continue
        if m := GUARD_EMPTY.match(line):
            commands.append(
                Command(shlex.split(m["action"]), shlex.split(m["guard"]), None, "ensure")
            )
        elif m := GUARD_EXPECT.match(line):
            commands.append(
                Command(
                    shlex.split(m["action"]),
                    shlex.split(m["guard"]),
                    shlex.split(m["expect"])[0] if m["expect"] != "''" else "",
                    "ensure",
                )
            )
        elif m := GUARD_LINE.match(line):
            commands.append(
                Command(
                    shlex.split(m["action"]),
                    shlex.split(m["guard"]),
                    shlex.split(m["line"])[0],
                    "ensure",
                )
            )
        elif m := CAPTURE.match(line):
            commands.append(Command(shlex.split(m["cmd"]), kind="capture"))
        elif m := BUILD_GUARD.match(line):
            commands.append(Command(shlex.split(m["cmd"]), kind="build-guard"))
        else:
            commands.append(Command(shlex.split(line[2:])))
    return commands


def run_script(script, *args, path_prefix=None, extra_env=None):
    """Runs deploy/<script> with args; returns (exit code, stdout, stderr)."""
    env = dict(os.environ)
    # Settings a developer may have exported would change the dry run.
    for key in ("PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "REGION", "OUTPUT_BUCKET", "DRY_RUN",
                "UPLOAD_BUCKET", "BUILD_BUCKET", "TOPIC", "DLQ_TOPIC", "DLQ_SUBSCRIPTION",
                "COLLECTION", "MODERATION_POLICY", "MAX_DELIVERY_ATTEMPTS", "REPO",
                "TRANSPORT", "UPLOADS_TOPIC", "UPLOAD_PREFIX"):
        env.pop(key, None)
    env.update(extra_env or {})
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    proc = subprocess.run(
        ["bash", os.path.join(DEPLOY_DIR, script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@dataclass
class Service:
    """A Cloud Run service as cloudbuild.yaml deploys and checks it."""

    name: str
    deploy_argv: list
    check_env: dict = field(default_factory=dict)
    check_secret_env: list = field(default_factory=list)
    check_image: str = ""

    def deploy_flag(self, key):
        return Command(self.deploy_argv).flag(key)

    def deploy_env(self):
        value = self.deploy_flag("set-env-vars") or ""
        delimiter = ","
        # gcloud's escaping for values holding commas: ^DELIM^KEY=a,b@KEY2=c (gcloud topic escaping).
        if m := re.match(r"^\^(.)\^", value):
            delimiter, value = m[1], value[m.end():]
        env = {}
        for pair in value.split(delimiter):
            key, _, value = pair.partition("=")
            env[key] = value
        return env

    def deploy_secrets(self):
        """--set-secrets as {env var: secret:version}."""
        pairs = (self.deploy_flag("set-secrets") or "").split(",")
        return dict(pair.split("=", 1) for pair in pairs if pair)


def load_cloudbuild(path=None):
    with open(path or os.path.join(REPO_ROOT, "cloudbuild.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def step_script(step):
    """The bash script of a step (entrypoint bash, args [-c..., script])."""
    args = step.get("args", [])
    return args[-1] if step.get("entrypoint") == "bash" and args else ""


# The first line of a deploy step that only runs in one topology (deploy.sh --topology).
TOPOLOGY_GUARD = re.compile(r'^\[ "\$\{_TOPOLOGY\}" = (?P<topology>\w+) \] \|\| \{ .*exit 0; \}$', re.M)


def step_topology(script):
    """The topology a deploy step is limited to, or None when every topology runs it."""
    m = TOPOLOGY_GUARD.search(script)
    return m["topology"] if m else None


def cloudbuild_services(build, topology="four"):
    """Services cloudbuild.yaml deploys in `topology` (_TOPOLOGY), with their check-config steps."""
    services = {}
    for step in build["steps"]:
        script = step_script(step)
        if "gcloud run deploy" in script and step_topology(script) in (None, topology):
            argv = shlex.split(script.replace("\\\n", " "))
            start = argv.index("deploy") + 1
            services[argv[start]] = Service(argv[start], argv[start - 3 :])
    for step in build["steps"]:
        if step.get("args") == ["check-config"]:
            env = dict(item.split("=", 1) for item in step.get("env", []))
            name = env.pop("K_SERVICE", None)
            if name in services:
                services[name].check_env = env
                services[name].check_secret_env = step.get("secretEnv", [])
                services[name].check_image = step["name"]
    return services
