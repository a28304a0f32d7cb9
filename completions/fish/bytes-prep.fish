# fish completion for bytes-prep
set -l subs list cat words
complete -c bytes-prep -f -n "not __fish_seen_subcommand_from $subs" -a list -d 'Check a dataset and print its splits'
complete -c bytes-prep -f -n "not __fish_seen_subcommand_from $subs" -a cat -d 'Write documents to stdout'
complete -c bytes-prep -f -n "not __fish_seen_subcommand_from $subs" -a words -d 'Show how the word model cuts a text'
complete -c bytes-prep -F -n "not __fish_seen_subcommand_from $subs"

complete -c bytes-prep -s h -l help -d 'Print help and exit'
complete -c bytes-prep -l version -d 'Print version and exit'
complete -c bytes-prep -s q -l quiet -d 'Print less on stderr'
complete -c bytes-prep -s v -l verbose -d 'Print more on stderr'
complete -c bytes-prep -l json -d 'Print results as JSON on stdout'
complete -c bytes-prep -l threads -x -d 'Worker threads (0 = every core)'

set -l prep "not __fish_seen_subcommand_from $subs"
complete -c bytes-prep -n $prep -s o -l output -r -d 'Dataset file to write'
complete -c bytes-prep -n $prep -l docs -x -a 'file line paragraph nul' -d 'How to cut documents'
complete -c bytes-prep -n $prep -s s -l separator -x -d 'Cut documents at this string'
complete -c bytes-prep -n $prep -l val -x -d 'Fraction of documents for val'
complete -c bytes-prep -n $prep -l test -x -d 'Fraction of documents for test'
complete -c bytes-prep -n $prep -l train-input -r -d 'Put this input wholly in train'
complete -c bytes-prep -n $prep -l val-input -r -d 'Put this input wholly in val'
complete -c bytes-prep -n $prep -l test-input -r -d 'Put this input wholly in test'
complete -c bytes-prep -n $prep -l dedup -d 'Drop exact duplicate documents'
complete -c bytes-prep -n $prep -l binary -x -a 'skip keep' -d 'Files holding NUL bytes'
complete -c bytes-prep -n $prep -s L -l level -x -d 'zstd level'
complete -c bytes-prep -n $prep -l block-size -x -d 'Uncompressed bytes per frame'

complete -c bytes-prep -n '__fish_seen_subcommand_from list' -l documents -d 'One line per document'
complete -c bytes-prep -n '__fish_seen_subcommand_from list cat' -F
complete -c bytes-prep -n '__fish_seen_subcommand_from cat' -l split -x -a 'train val test all' -d 'Split to write'
complete -c bytes-prep -n '__fish_seen_subcommand_from cat' -l doc -x -d 'Only document N'
complete -c bytes-prep -n '__fish_seen_subcommand_from cat' -l delimiter -x -d 'String after each document'
complete -c bytes-prep -n '__fish_seen_subcommand_from cat' -s z -l null -d 'End each document with NUL'
complete -c bytes-prep -n '__fish_seen_subcommand_from cat' -l no-delimiter -d 'Documents back to back'
complete -c bytes-prep -n '__fish_seen_subcommand_from words' -F
complete -c bytes-prep -n '__fish_seen_subcommand_from words' -l rule -x -a 'whitespace spacelike hat' -d 'How words are cut'
complete -c bytes-prep -n '__fish_seen_subcommand_from words' -l cap -x -d 'Longest word in bytes'
