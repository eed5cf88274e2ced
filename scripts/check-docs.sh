#!/usr/bin/env bash
# Checks the shape of the documentation (issue 21): README.md stays a front page (at most 300
# lines, both set-up commands in its first 40), and every relative link in README.md and
# docs/*.md points at a file that exists, and at a heading that exists when it names one
# (GitHub's heading ids). Run by .ci/run; reads files only. Exits non-zero listing each fault.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly max_readme_lines=300
readonly setup_within_lines=40
readonly setup_commands=("cargo run --release -- process" "bash .ci/run")

faults=0
fault() {
  echo "check-docs: $*" >&2
  faults=$((faults + 1))
}

# The file's lines with fenced code blocks blanked (line numbers stay right), so that shell
# comments and `[x](y)`-looking text inside code are neither headings nor links.
prose() {
  awk '/^[[:space:]]*(```|~~~)/ { fence = !fence; print ""; next } { print (fence ? "" : $0) }' "$1"
}

# The ids GitHub gives the file's headings: lower case, punctuation dropped, spaces to
# hyphens, a repeated id suffixed -1, -2, ...
heading_ids() {
  prose "$1" |
    sed -nE 's/^#{1,6}[[:space:]]+//p' |
    sed -E 's/[[:space:]]+#+[[:space:]]*$//' |
    tr '[:upper:]' '[:lower:]' |
    sed -E 's/[^a-z0-9 _-]//g; s/ /-/g' |
    awk '{ n = seen[$0]++; print (n ? $0 "-" n : $0) }'
}

check_link() { # FILE LINE TARGET
  local file=$1 line=$2 target=$3 path fragment resolved
  [[ $target =~ ^[a-zA-Z][a-zA-Z0-9+.-]*: ]] && return 0 # http:, https:, mailto: ...
  path=${target%%#*}
  fragment=""
  [[ $target == *"#"* ]] && fragment=${target#*#}
  if [[ -z $path ]]; then
    resolved=$file
  else
    resolved="$(dirname "$file")/$path"
  fi
  if [[ ! -e $resolved ]]; then
    fault "$file:$line: link to '$target': no such file ($resolved)"
    return 0
  fi
  if [[ -n $fragment && $resolved == *.md ]] &&
    ! heading_ids "$resolved" | grep -qxF -- "$fragment"; then
    fault "$file:$line: link to '$target': $resolved has no heading with id '$fragment'"
  fi
}

# "LINE:](target)" for each inline link or image in the file's prose. Code spans are dropped
# first: `[x](y)` inside backticks is text, not a link.
links_in() { # FILE
  # shellcheck disable=SC2016 # the backticks are sed's, not the shell's
  prose "$1" | sed -E 's/`[^`]*`//g' | grep -noE '\]\([^)[:space:]]+( "[^"]*")?\)' || true
}

check_links() { # FILE
  local file=$1 number text target
  while IFS=: read -r number text; do
    target=${text#*](}
    target=${target%)}
    target=${target%% *} # drop a "title"
    check_link "$file" "$number" "$target"
  done < <(links_in "$file")
}

readme_lines=$(wc -l <README.md)
if ((readme_lines > max_readme_lines)); then
  fault "README.md has $readme_lines lines, more than $max_readme_lines: move detail to docs/"
fi
for command in "${setup_commands[@]}"; do
  if ! head -n "$setup_within_lines" README.md | grep -qF -- "$command"; then
    fault "README.md: the set-up command '$command' is not in its first $setup_within_lines lines"
  fi
done

for file in README.md docs/*.md; do
  check_links "$file"
done

if ((faults)); then
  echo "check-docs: $faults fault(s)" >&2
  exit 1
fi
echo "check-docs: README.md $readme_lines lines; set-up commands near the top; links resolve"
