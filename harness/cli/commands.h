#pragma once
// One function per `qbench` subcommand; each returns the process exit code.
namespace qbench::cli {

int cmd_run(int argc, char** argv);
int cmd_fixture(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_backends(int argc, char** argv);
int cmd_sysinfo(int argc, char** argv);
int cmd_eval(int argc, char** argv);  // cmd_eval.cpp: mmlu, ppl
int cmd_plan(int argc, char** argv);  // cmd_plan.cpp: fit / speed / cost per GPU
int cmd_quantize(int argc, char** argv);  // dispatches on --to:
int cmd_quantize_gguf(int argc, char** argv);  // cmd_quantize_gguf.cpp
int cmd_quantize_gptq(int argc, char** argv);  // cmd_quantize_gptq.cpp
int cmd_quantize_awq(int argc, char** argv);   // cmd_quantize_awq.cpp
int cmd_matrix(int argc, char** argv);   // matrix run SPEC.json
int cmd_report(int argc, char** argv);
int cmd_compare(int argc, char** argv);  // exit 0 pass, 1 regression, 2 error

}  // namespace qbench::cli
