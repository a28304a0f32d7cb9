# fish completion for bytes-bench
complete -c bytes-bench -s h -l help -d 'Print help and exit'
complete -c bytes-bench -l version -d 'Print version and exit'
complete -c bytes-bench -s q -l quiet -d 'Print less on stderr'
complete -c bytes-bench -s v -l verbose -d 'Print more on stderr'
complete -c bytes-bench -l threads -x -d 'Threads (0 = every core)'
complete -c bytes-bench -l json -d 'One JSON object per row (as --format json)'
complete -c bytes-bench -l tests -x -a '(bytes-bench --list 2>/dev/null | string replace -r "^(\S+)\s+(.*)" "\$1\t\$2")' -d 'Tests to run, comma separated'
complete -c bytes-bench -s a -l arch -x -a 'flat word patch' -d 'Architectures, comma separated'
complete -c bytes-bench -l precision -x -a 'f32 bf16' -d 'Precisions, comma separated'
complete -c bytes-bench -s r -l repetitions -x -d 'Measured repetitions'
complete -c bytes-bench -l warmup -x -d 'Unmeasured runs first'
complete -c bytes-bench -l min-time -x -d 'Seconds a kernel repetition lasts at least'
complete -c bytes-bench -l batch -x -d 'Training batch'
complete -c bytes-bench -l attention-ctx -x -d 'Attention test contexts, comma separated'
complete -c bytes-bench -l prompt-bytes -x -d 'pp prompt size'
complete -c bytes-bench -s n -l gen-bytes -x -d 'tg bytes generated'
complete -c bytes-bench -l text -r -d 'Text for train, pp, prep and perturb'
complete -c bytes-bench -l text-bytes -x -d 'Size of the synthetic text'
complete -c bytes-bench -l noise -x -d 'perturb noise chain'
complete -c bytes-bench -l format -x -a 'md csv json' -d 'Output format'
complete -c bytes-bench -l seed -x -d 'Seed of weights, batches and text'
complete -c bytes-bench -l list -d 'List the tests'
# The model's size flags are its architectures' config fields (bytes-model(5)): the options of
# --help's Model sections, so that a new field needs no edit here.
set -l in_model 0
for line in (bytes-bench --help 2>/dev/null)
  if string match -qr '^Model' -- $line
    set in_model 1
  else if string match -qr '^\S' -- $line
    set in_model 0
  else if test $in_model = 1
    set -l flag (string match -r -- '^  --([a-z0-9-]+)' $line)
    test -n "$flag[2]"; and complete -c bytes-bench -l $flag[2] -x
  end
end
