# fish completion for bytes-train
complete -c bytes-train -s h -l help -d 'Print help and exit'
complete -c bytes-train -l version -d 'Print version and exit'
complete -c bytes-train -s q -l quiet -d 'Print less on stderr'
complete -c bytes-train -s v -l verbose -d 'Print more on stderr'
complete -c bytes-train -l json -d 'Print the final report as JSON'
complete -c bytes-train -l threads -x -d 'Threads (0 = every core)'
complete -c bytes-train -l seed -x -d 'Random seed'
complete -c bytes-train -l config -r -d 'Read options from a TOML file'
complete -c bytes-train -s d -l data -r -d 'Dataset to train on'
complete -c bytes-train -s o -l output -r -d 'Run directory'
complete -c bytes-train -l resume -d 'Continue the run in the output directory'
complete -c bytes-train -l plan -d 'Print the sizes --time chooses from; train nothing'
complete -c bytes-train -l init -r -F -d 'Start a new run from a model file'
complete -c bytes-train -l arch -x -a 'flat word patch' -d 'Architecture'
complete -c bytes-train -l precision -x -a 'f32 bf16' -d 'Matrix precision'
for opt in batch accum lr min-lr warmup weight-decay clip steps bytes time val-every val-bytes checkpoint-every log-every
  complete -c bytes-train -l $opt -x
end
# The model's size flags are its architectures' config fields (bytes-model(5)): the options of
# --help's Model sections, so that a new field needs no edit here.
set -l in_model 0
for line in (bytes-train --help 2>/dev/null)
  if string match -qr '^Model' -- $line
    set in_model 1
  else if string match -qr '^\S' -- $line
    set in_model 0
  else if test $in_model = 1
    set -l flag (string match -r -- '^  --([a-z0-9-]+)' $line)
    test -n "$flag[2]"; and complete -c bytes-train -l $flag[2] -x
  end
end
complete -c bytes-train -l patch -x -a '8 16x4 64x8x4'
complete -c bytes-train -l word-rule -x -a 'whitespace spacelike hat'
