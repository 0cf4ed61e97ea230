#pragma once
// One function per `qbench` subcommand; each returns the process exit code.
namespace qbench::cli {

int cmd_run(int argc, char** argv);
int cmd_fixture(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_backends(int argc, char** argv);
int cmd_sysinfo(int argc, char** argv);

}  // namespace qbench::cli
