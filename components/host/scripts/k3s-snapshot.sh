# Before a k3s version change on a cluster with embedded etcd (asked on the first server, with the binary
# still the old one): an on-demand etcd snapshot named pre-<target version>, printed as
# etcd_snapshot=<file name in <data-dir>/server/db/snapshots>. A fresh install has nothing to save.
# Parameters: K3S_VERSION K3S_DATA_DIR
snapshots="$K3S_DATA_DIR/server/db/snapshots"
if ! systemctl is-active --quiet k3s.service || [ ! -d "$K3S_DATA_DIR/server/db/etcd" ]; then
  echo "no running k3s server with embedded etcd here yet: no snapshot to take"
  echo "etcd_snapshot="
  exit 0
fi
name="pre-${K3S_VERSION//+/-}"
k3s etcd-snapshot save --data-dir "$K3S_DATA_DIR" --name "$name" >&2
file=$(find "$snapshots" -maxdepth 1 -type f -name "$name-*" -printf '%T@ %f\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
[ -n "$file" ] || { echo "k3s-buildkit: k3s etcd-snapshot save wrote no $name-* in $snapshots" >&2; exit 1; }
echo "etcd_snapshot=$file"
