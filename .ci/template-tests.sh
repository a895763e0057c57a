#!/usr/bin/env bash
# Tests of the `dotnet new esservice` template, run by .ci/run (see docs/template.md).
# Installs the template from this working tree into a throwaway DOTNET_CLI_HOME, generates every
# --database x --broker combination, checks each file set (nothing left behind, no OrdersEs text in any case,
# options applied), builds all four, runs the generated tests of two, starts the SQLite one and places an order
# over HTTP, then packs the template and installs it from the .nupkg. Needs no server; about 5 minutes on 2 cores.
#   .ci/template-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

work=$(mktemp -d /tmp/esservice-template-tests.XXXXXX)
export DOTNET_CLI_HOME="$work/cli-home"
export NUGET_PACKAGES="${NUGET_PACKAGES:-$HOME/.nuget/packages}"   # shared: restores do not download again
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p "$DOTNET_CLI_HOME"

passed=0 failed=0 skipped=0
server_pid=""
script_start=$SECONDS

cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then kill -TERM -- "-$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  dotnet new uninstall "$repo" >/dev/null 2>&1 || true
  dotnet new uninstall OrdersEs.Templates >/dev/null 2>&1 || true
  rm -rf "$work"
  return $status
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); echo "template-tests: $passed passed, $failed failed, $skipped skipped"; exit 1; }
ok() { echo "  ok: $*"; passed=$((passed + 1)); }
skip() { echo "  SKIPPED: $*"; skipped=$((skipped + 1)); }

step_start=0
step() { step_start=$SECONDS; echo; echo "== $*"; }
done_step() { echo "   ($((SECONDS - step_start)) s)"; }

# Runs a command with a time limit; on failure shows the end of its output and stops the script.
run() {
  local limit=$1 log=$2; shift 2
  if ! timeout "$limit" "$@" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    fail "'$*' failed or exceeded ${limit}s (full log above, last 60 lines)"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# What the template must copy: the tree's files (tracked, or new and not ignored) less what template.json excludes.
excluded='^(\.ci/|bench/|docs/template\.md$|docs/benchmarks\.md$|docs/[^/]*\.png$|templatepack\.csproj$|artifacts/|\.template\.config/|\.git$|\.git/|\.vs/|\.idea/)|(^|/)(bin|obj|TestResults)/|\.db(-shm|-wal)?$|\.user$'
docker_files='^(Dockerfile|docker-compose\.yml|\.dockerignore)$'
safe_name() { local n=${1//[^A-Za-z0-9_]/_}; [[ $n =~ ^[0-9] ]] && n="_$n"; printf '%s' "$n"; }
expected_files() { # $1 = generated name, $2 = yes if docker files are left out
  git -C "$repo" ls-files --cached --others --exclude-standard | sort -u | while IFS= read -r f; do
    [ -e "$repo/$f" ] || continue
    [[ $f =~ $excluded ]] && continue
    [ "$2" = yes ] && [[ $f =~ $docker_files ]] && continue
    # Paths are renamed as template.json says: a type named after the service keeps one identifier, else the name as typed.
    f=${f//OrdersEsTelemetry/$(safe_name "$1")Telemetry}
    printf '%s\n' "${f//OrdersEs/$1}"
  done | sort
}

# ---------------------------------------------------------------------------------------------------------------
step "install the template from $repo"
run 120 "$work/install.log" dotnet new install "$repo"
grep -q esservice "$work/install.log" || fail "dotnet new install did not list esservice"
run 60 "$work/help.log" dotnet new esservice --help
for option in --database -db --broker --no-docker --no-restore postgresql sqlite rabbitmq memory; do
  grep -q -- "$option" "$work/help.log" || fail "dotnet new esservice --help does not mention $option"
done
grep -qF -- "--type <project>" "$work/help.log" || fail "dotnet new esservice --help does not show the template as a project (tags.type)"
ok "installed; --help lists --database/-db, --broker, --no-docker, --no-restore and their choices"
done_step

# name | database | broker | docker left out | extra arguments
combos=(
  "Acme.Orders|sqlite|memory|no|"
  "Acme.Billing-Svc|postgresql|rabbitmq|no|--no-restore"
  "Acme.Ledger|sqlite|rabbitmq|yes|--no-restore --no-docker"
  "Shop-Api|postgresql|memory|no|--no-restore"
)

declare -A dir_of sln_of
for combo in "${combos[@]}"; do
  IFS='|' read -r name database broker nodocker extra <<<"$combo"
  step "generate $name (database $database, broker $broker${extra:+, $extra})"
  out="$work/out/$name"
  db_option=--database; [ "$name" = Shop-Api ] && db_option=-db   # the short alias, once
  # shellcheck disable=SC2086
  run 300 "$work/new-$name.log" dotnet new esservice -n "$name" -o "$out" "$db_option" "$database" --broker "$broker" $extra
  dir_of[$name]=$out
  sln_of[$name]="$out/$name.sln"

  if [[ $extra == *--no-restore* ]]; then
    [ -e "$out/src/Api/obj" ] && fail "$name: --no-restore still restored (src/Api/obj exists)"
  else
    grep -q "Restore succeeded" "$work/new-$name.log" || { cat "$work/new-$name.log" >&2; fail "$name: the restore post-action did not run"; }
  fi

  # The file set is exactly the template's files (bin/obj from the restore post-action aside).
  actual=$(cd "$out" && find . \( -name bin -o -name obj \) -prune -o -type f -print | sed 's|^\./||' | sort)
  expected=$(expected_files "$name" "$nodocker")
  if [ "$actual" != "$expected" ]; then
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") >&2 || true
    fail "$name: generated files differ from the template's (< expected only, > generated only)"
  fi
  for f in "$name.sln" src/Api/Api.csproj src/Api/appsettings.json src/Domain/Domain.csproj \
           src/Infrastructure/Infrastructure.csproj tests/Api.Tests/Api.Tests.csproj README.md global.json \
           Directory.Build.props Directory.Packages.props .editorconfig .gitignore; do
    [ -f "$out/$f" ] || fail "$name: $f is missing"
  done
  if [ "$nodocker" = yes ]; then
    for f in Dockerfile docker-compose.yml .dockerignore; do [ -e "$out/$f" ] && fail "$name: $f present despite --no-docker"; done
  else
    for f in Dockerfile docker-compose.yml .dockerignore; do [ -f "$out/$f" ] || fail "$name: $f is missing"; done
  fi
  ok "$name: file set as expected (no .ci, bench, docs/template.md, pack project, bin/obj, *.db; docker files $([ "$nodocker" = yes ] && echo absent || echo present))"

  leftovers=$(grep -rli orderses "$out" || true)
  paths=$(find "$out" -iname '*orderses*')
  [ -z "$leftovers$paths" ] || { grep -rni orderses "$out" | head -20 >&2; printf '%s\n' "$paths" >&2; fail "$name: OrdersEs text left in: $leftovers $paths"; }
  markers=$(grep -rnE '^\s*(//~|##?(if|else|elseif|endif)\b|<!--#|#endif -->)|#if \(|//#(if|else|endif)' "$out" \
    --include='*.cs' --include='*.json' --include='*.md' --include='*.yml' --include=Dockerfile --include='*.csproj' || true)
  [ -z "$markers" ] || { printf '%s\n' "$markers" >&2; fail "$name: template conditionals left in the output"; }
  ok "$name: no OrdersEs text in any file or path (any case), no template markers"

  # Only the packages it uses; NuGet audit findings stay warnings; GUIDs of its own; the developer's loop files.
  python3 - "$out" "$repo" <<'PY' || fail "$name: packages, GUIDs or launch/.http files not as expected (see above)"
import json, pathlib, re, sys
root, repo = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
versions = set(re.findall(r'<PackageVersion Include="([^"]+)"', (root / "Directory.Packages.props").read_text()))
used = set()
for project in root.rglob("*.csproj"):
    used |= set(re.findall(r'<PackageReference Include="([^"]+)"', project.read_text()))
assert versions == used, f"Directory.Packages.props versions no project uses: {sorted(versions - used)}; used without a version: {sorted(used - versions)}"
props = (root / "Directory.Build.props").read_text()
for code in ("NU1901", "NU1902", "NU1903", "NU1904"):
    assert re.search(r"<WarningsNotAsErrors>[^<]*\b" + code + r"\b", props), f"{code} is not in WarningsNotAsErrors"
template_guids = json.loads((repo / ".template.config/template.json").read_text())["guids"]
files = [p for p in root.rglob("*") if p.is_file() and not {"bin", "obj"} & set(p.relative_to(root).parts)]
text = "\n".join(p.read_text(errors="replace") for p in files).lower()
kept = [g for g in template_guids if g.lower() in text]
assert not kept, f"the template's own GUIDs are still in the output: {kept}"
secrets = re.search(r"<UserSecretsId>([0-9a-fA-F-]{36})</UserSecretsId>", (root / "src/Api/Api.csproj").read_text())
assert secrets, "src/Api/Api.csproj has no UserSecretsId"
(root.parent / (root.name + ".secrets-id")).write_text(secrets.group(1) + "\n")
launch = json.loads((root / "src/Api/Properties/launchSettings.json").read_text())["profiles"]
for profile in ("http", "https"):
    p = launch[profile]
    assert p["launchBrowser"] is True and p["launchUrl"] == "swagger", p
    assert p["environmentVariables"]["ASPNETCORE_ENVIRONMENT"] == "Development", p
http_files = list((root / "src/Api").glob("*.Api.http"))
assert len(http_files) == 1 and http_files[0].name == root.name + ".Api.http", [f.name for f in http_files]
PY
  ok "$name: only the packages it uses, NU1901-NU1904 not errors, new GUIDs and UserSecretsId, launch profiles and $name.Api.http"

  # Options applied: appsettings (JSON with comments), docker-compose, identifiers.
  python3 - "$out" "$database" "$broker" "$nodocker" <<'PY' || fail "$name: options not applied (see above)"
import json, re, sys, pathlib
out, database, broker, nodocker = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "yes"
root = pathlib.Path(out)
text = (root / "src/Api/appsettings.json").read_text()
settings = json.loads(re.sub(r"(?m)^\s*//.*$", "", text))["pyfly"]
url = settings["data"]["relational"]["url"]
want = "postgresql://orders:orders@localhost:5432/orders" if database == "postgresql" else "sqlite+aiosqlite:///./app.db"
assert url == want, f"appsettings url {url!r}, expected {want!r}"
eda = settings["eda"]
assert eda["provider"] == broker, f"appsettings eda provider {eda['provider']!r}, expected {broker!r}"
if broker == "rabbitmq":
    assert eda["rabbitmq"]["url"] == "amqp://guest:guest@localhost:5672/", eda
for sql in root.rglob("*.cs"):
    for table in re.findall(r"\b(\w*projection_checkpoints)\b", sql.read_text()):
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", table), f"{sql}: {table} is not an unquoted SQL identifier"
for ns in re.findall(r"^namespace ([^;\s]+)", "\n".join(p.read_text() for p in root.rglob("*.cs")), re.M):
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", ns), f"namespace {ns} is not valid C#"
if not nodocker:
    compose = (root / "docker-compose.yml").read_text()
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml:
        doc = yaml.safe_load(compose)
        services = doc["services"]
        assert ("postgres" in services) == (database == "postgresql"), list(services)
        assert ("rabbitmq" in services) == (broker == "rabbitmq"), list(services)
        env = services["api"]["environment"]
        assert all(k.startswith("PYFLY__") for k in env), env
        assert env["PYFLY__EDA__PROVIDER"] == broker, env
        if database == "postgresql":
            assert env["PYFLY__DATA__RELATIONAL__URL"] == "postgresql://orders:orders@postgres:5432/orders", env
            assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        if broker == "rabbitmq":
            assert services["api"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert services["api"]["ports"] == ["8080"], services["api"]["ports"]
    else:
        print("  (python3 yaml module missing: docker-compose.yml checked by text only)")
        assert ("postgres:17" in compose) == (database == "postgresql")
        assert ("rabbitmq:4-management" in compose) == (broker == "rabbitmq")
PY
  ok "$name: appsettings.json, docker-compose.yml and identifiers follow --database $database --broker $broker"
  done_step
done

secret_ids=$(cat "$work"/out/*.secrets-id | sort)
[ "$(uniq <<<"$secret_ids" | wc -l)" = "${#combos[@]}" ] || fail "generated services share a UserSecretsId: $secret_ids"
ok "every generated service has a UserSecretsId of its own"
rm -f "$work"/out/*.secrets-id

# ---------------------------------------------------------------------------------------------------------------
for combo in "${combos[@]}"; do
  IFS='|' read -r name _ <<<"$combo"
  step "build $name"
  run 400 "$work/build-$name.log" dotnet build "${sln_of[$name]}" -nologo
  ok "$name builds (warnings are errors)"
  done_step
done

for name in Acme.Orders Acme.Billing-Svc; do
  step "test $name (its own tests; no server, so PostgreSQL and RabbitMQ tests skip)"
  run 400 "$work/test-$name.log" dotnet test "${sln_of[$name]}" --no-build
  grep -E "total:|failed:|succeeded:|skipped:" "$work/test-$name.log" | paste -sd' ' | sed 's/^/   /'
  ok "$name: dotnet test passes"
  done_step
done

# ---------------------------------------------------------------------------------------------------------------
step "run Acme.Orders and place an order over HTTP"
name=Acme.Orders
port=$(free_port)
base="http://127.0.0.1:$port"
(cd "${dir_of[$name]}" && exec setsid dotnet run --project src/Api --no-build --urls "$base" >"$work/run.log" 2>&1) &
server_pid=$!
sleep 0.2
[ "$(ps -o pgid= -p "$server_pid" | tr -d ' ')" = "$server_pid" ] || fail "setsid did not make the service a process group of its own"
for _ in $(seq 1 120); do
  curl -sf "$base/health/live" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/run.log" >&2; fail "$name: the service exited before answering /health/live"; }
  sleep 0.5
done
curl -sf "$base/health/live" >/dev/null || { tail -n 40 "$work/run.log" >&2; fail "$name: /health/live did not answer within 60 s"; }
ok "$name answers /health/live on $base"

body='{"customerId":"c-1","currency":"EUR","lines":[{"sku":"SKU-1","quantity":2,"unitPrice":1250}]}'
status=$(curl -s -o "$work/post.json" -D "$work/post.headers" -w '%{http_code}' -X POST "$base/api/orders" \
  -H 'Content-Type: application/json' -d "$body")
if [ "$status" = 201 ]; then
  location=$(grep -i '^location:' "$work/post.headers" | head -n1 | cut -d' ' -f2- | tr -d '\r')
  [ -n "$location" ] || fail "POST /api/orders answered 201 without a Location header"
  case $location in http*) url=$location ;; *) url="$base$location" ;; esac
  ok "POST /api/orders answered 201, Location $location"
  # Queries read the projected read model; ?minVersion=1 waits until it holds the new order.
  got=$(curl -s -w '\n%{http_code}' "$url?minVersion=1")
  [ "${got##*$'\n'}" = 200 ] || fail "GET $location?minVersion=1 answered ${got##*$'\n'}: ${got%$'\n'*}"
  grep -q '"c-1"' <<<"${got%$'\n'*}" || fail "GET $location does not show customer c-1: ${got%$'\n'*}"
  ok "GET $location answered 200 with the order"
elif [ "$status" = 404 ] && ! grep -rqF '"/api/orders"' "${dir_of[$name]}/src/Api"; then
  skip "POST /api/orders answered 404: this tree has no orders endpoint yet (the REST API is not merged); recheck after the merge"
else
  cat "$work/post.json" >&2 || true
  fail "POST /api/orders answered $status, expected 201"
fi
kill -TERM -- "-$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
ok "$name stopped"
done_step

# ---------------------------------------------------------------------------------------------------------------
step "pack the template and install it from the .nupkg"
run 120 "$work/uninstall.log" dotnet new uninstall "$repo"
run 300 "$work/pack.log" dotnet pack "$repo/templatepack.csproj" -o "$work/artifacts" -nologo \
  -p:BaseIntermediateOutputPath="$work/pack-obj/" -p:BaseOutputPath="$work/pack-bin/"
nupkg=$(ls "$work"/artifacts/OrdersEs.Templates.*.nupkg)
entries=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$nupkg")
if grep -qE '^content/(\.ci/|bench/|artifacts/|templatepack\.csproj|docs/template\.md)|/(bin|obj)/|\.db$' <<<"$entries"; then
  printf '%s\n' "$entries" >&2; fail "the package holds files the template leaves out"
fi
grep -qx 'content/.template.config/template.json' <<<"$entries" || fail "the package lacks content/.template.config/template.json"
grep -qx 'icon.png' <<<"$entries" || fail "the package lacks its icon (icon.png at the root)"
nuspec=$(python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read([n for n in z.namelist() if n.endswith(".nuspec")][0]).decode())' "$nupkg")
for want in '<license type="expression">MIT</license>' '<icon>icon.png</icon>' '<projectUrl>' '<repository type="git" url='; do
  grep -qF "$want" <<<"$nuspec" || { printf '%s\n' "$nuspec" >&2; fail "the package's nuspec lacks $want"; }
done
run 120 "$work/install-nupkg.log" dotnet new install "$nupkg"
run 120 "$work/new-from-nupkg.log" dotnet new esservice -n Acme.Orders -o "$work/out-nupkg" --no-restore
# The folder-generated copy has since been built and run: leave out bin/obj and its SQLite database.
from_folder=$(cd "${dir_of[Acme.Orders]}" && find . \( -name bin -o -name obj \) -prune -o -type f ! -name '*.db*' -print | sort)
from_package=$(cd "$work/out-nupkg" && find . -type f | sort)
[ "$from_folder" = "$from_package" ] || { diff <(echo "$from_folder") <(echo "$from_package") >&2 || true; fail "the package generates other files than the folder"; }
run 120 "$work/uninstall-nupkg.log" dotnet new uninstall OrdersEs.Templates
ok "$(basename "$nupkg") installs and generates the same files (dot-files included) as the folder"
done_step

echo
echo "template tests took $((SECONDS - script_start)) s"
echo "template-tests: $passed passed, $failed failed, $skipped skipped"
