// bytes-perturb's run over files: the inputs as one stream, or (with a field) as JSON lines
// whose field is perturbed record by record; the report of the edits made and the list of noise
// types, as the program prints them.
#pragma once
#include <string>
#include <vector>

#include "bytes/text/perturb.hpp"

namespace bytes {

// Perturbs the inputs (- is stdin) into output: a file, written whole or not at all; or stdout
// ("" ), sent as pieces are ready (a co-process gets each record's answer as it asks). A bad
// record throws Error "line N of FILE …" after the records before it are out (on stdout).
void perturb_files(Perturber& perturber, const std::vector<std::string>& inputs, const std::string& field,
                   const std::string& output);

// {"report": [{"noise", "rate", "units", "edits", "edit_rate"}, …]}: the counts, one line.
std::string noise_report(const Perturber& perturber);

// One line per noise type: name, default rate, and what the rate is per.
std::string noise_list();

}  // namespace bytes
