#!/bin/sh
# Archive SOURCE into DEST/<name>-<UTC date>.tar.gz and keep the newest KEEP archives of it.
# Usage: backup-dir.sh SOURCE DEST KEEP
set -eu
source_dir=$1
dest=$2
keep=$3
[ -d "$source_dir" ] || { echo "backup-dir: $source_dir is not a directory" >&2; exit 2; }
mkdir -p "$dest"
name=$(printf '%s' "$source_dir" | sed 's#^/##; s#/#_#g')
[ -n "$name" ] || name=root
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archive="$dest/$name-$stamp.tar.gz"
tar -czf "$archive.partial" -C "$source_dir" .
mv "$archive.partial" "$archive"
echo "wrote $archive ($(wc -c < "$archive") bytes)"
# Prune: newest first, drop everything after the first KEEP.
ls -1t "$dest/$name"-*.tar.gz 2>/dev/null | tail -n +"$((keep + 1))" | while IFS= read -r old; do
    rm -f -- "$old" && echo "pruned $old"
done
