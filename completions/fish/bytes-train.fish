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
complete -c bytes-train -l arch -x -a 'flat word patch' -d 'Architecture'
complete -c bytes-train -l patch -x -a '8 16x4 64x8x4' -d 'Units per stage of the patch model'
complete -c bytes-train -l word-rule -x -a 'whitespace spacelike' -d 'How text is cut into words'
complete -c bytes-train -l precision -x -a 'f32 bf16' -d 'Matrix precision'
for opt in inner-d-model inner-layers enc-d-model enc-layers dec-d-model dec-layers word-cap d-model layers ctx batch accum lr min-lr warmup weight-decay clip steps bytes time val-every val-bytes checkpoint-every log-every
  complete -c bytes-train -l $opt -x
end
