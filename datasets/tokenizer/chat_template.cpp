// apply_chatml: Qwen2.5's chat template (chat_template.jinja, the no-tools branch) written out in C++.
#include "datasets/tokenizer/tokenizer.h"

namespace qbench {

std::string apply_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const std::string& default_system) {
  std::string out;
  const bool has_system = !messages.empty() && messages[0].role == "system";
  if (has_system)
    out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
  else if (!default_system.empty())
    out += "<|im_start|>system\n" + default_system + "<|im_end|>\n";

  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || m.role == "assistant" || (m.role == "system" && i > 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "tool") {
      // Consecutive tool results share one user turn.
      if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
    }
    // The leading system message was written above; other roles are dropped, as the template drops them.
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace qbench
