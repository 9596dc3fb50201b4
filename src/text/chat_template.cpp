// Detection by marker strings and hand-written renderers, one per family. Each renderer follows
// the family's published template (the Jinja text shipped with the reference models):
//   llama2   Meta's Llama-2-chat template: content stripped, "[INST] " + user + " [/INST]",
//            " " + answer + " </s>", later turns opened by "<s>[INST] ".
//   mistral  Mistral-7B-Instruct v0.1/v0.2: "[INST] " + user + " [/INST]", answer + "</s>".
//   llama3   Meta-Llama-3-Instruct: "<|start_header_id|>" + role + "<|end_header_id|>\n\n" +
//            trimmed content + "<|eot_id|>".
//   chatml   "<|im_start|>" + role + "\n" + content + "<|im_end|>\n" (Qwen, SmolLM, OpenHermes).
//   zephyr   HuggingFaceH4/zephyr-7b-beta and TinyLlama-Chat: "<|" + role + "|>\n" + content +
//            eos + "\n".
//   gemma    Gemma-it: "<start_of_turn>" + (user|model) + "\n" + trimmed content +
//            "<end_of_turn>\n"; Gemma 3 puts the system text + "\n\n" before the first user text.
//   phi3     Phi-3/3.5-mini-instruct: "<|" + role + "|>\n" + content + "<|end|>\n".
#include "text/chat_template.h"

#include <utility>

namespace loam {

namespace {

struct FamilyName {
  ChatFamily family;
  const char* name;
};

constexpr FamilyName kFamilies[] = {
    {ChatFamily::Llama2, "llama2"}, {ChatFamily::Mistral, "mistral"},
    {ChatFamily::Llama3, "llama3"}, {ChatFamily::ChatML, "chatml"},
    {ChatFamily::Zephyr, "zephyr"}, {ChatFamily::Gemma, "gemma"},
    {ChatFamily::Phi3, "phi3"},
};

// Python's str.strip() / Jinja's trim on the ASCII whitespace these templates meet. Not
// <cctype>: isspace depends on the locale.
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string trim(const std::string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end && is_blank(s[begin])) ++begin;
  while (end > begin && is_blank(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

bool contains(const std::string& text, const char* marker) {
  return text.find(marker) != std::string::npos;
}

// Meta's Llama 2 format. The first "[INST]" follows the BOS the tokenizer adds; each later user
// turn starts a new sequence with BOS text.
std::string render_llama2(const std::vector<ChatMessage>& messages, const ChatSpecialTexts& sp) {
  std::string out, system;
  bool first_turn = true;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      system += trim(m.content);
    } else if (m.role == "user") {
      if (!first_turn) out += sp.bos;
      out += "[INST] ";
      if (!system.empty()) out += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
      system.clear();
      out += trim(m.content) + " [/INST]";
      first_turn = false;
    } else {
      out += " " + trim(m.content) + " " + sp.eos;
      first_turn = false;
    }
  }
  return out;
}

// Mistral Instruct v0.1/v0.2: no system role, no BOS between turns. A system message goes before
// the next user text with a blank line, as Mistral's later templates place it.
std::string render_mistral(const std::vector<ChatMessage>& messages, const ChatSpecialTexts& sp) {
  std::string out, system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      system += m.content;
    } else if (m.role == "user") {
      out += "[INST] ";
      if (!system.empty()) out += system + "\n\n";
      system.clear();
      out += m.content + " [/INST]";
    } else {
      out += m.content + sp.eos;
    }
  }
  return out;
}

std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) +
           "<|eot_id|>";
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Zephyr and Phi-3 share the shape "<|role|>\n" + content + end + "\n".
std::string render_role_tags(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                             const std::string& end) {
  std::string out;
  for (const ChatMessage& m : messages) out += "<|" + m.role + "|>\n" + m.content + end + "\n";
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

std::string render_gemma(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out, system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      system += m.content;
      continue;
    }
    const bool user = m.role == "user";
    out += std::string("<start_of_turn>") + (user ? "user" : "model") + "\n";
    if (user && !system.empty()) {
      out += system + "\n\n";
      system.clear();
    }
    out += trim(m.content) + "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace

const char* chat_family_name(ChatFamily family) {
  for (const FamilyName& f : kFamilies) {
    if (f.family == family) return f.name;
  }
  return "?";
}

std::string chat_family_names() {
  std::string out;
  for (const FamilyName& f : kFamilies) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

bool chat_family_from_name(const std::string& name, ChatFamily& out) {
  for (const FamilyName& f : kFamilies) {
    if (name == f.name) {
      out = f.family;
      return true;
    }
  }
  return false;
}

Status detect_chat_family(const std::string& t, ChatFamily& out) {
  if (chat_family_from_name(t, out)) return Status::ok();
  // Order matters where markers overlap: Phi-3 and Zephyr both use <|user|> and <|assistant|>;
  // only Phi-3 ends turns with <|end|>. Llama 2 and Mistral both use [INST]; only Llama 2's
  // template has the <<SYS>> block.
  if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>")) {
    out = ChatFamily::Llama3;
  } else if (contains(t, "<|im_start|>")) {
    out = ChatFamily::ChatML;
  } else if (contains(t, "<start_of_turn>")) {
    out = ChatFamily::Gemma;
  } else if (contains(t, "[INST]")) {
    out = contains(t, "<<SYS>>") ? ChatFamily::Llama2 : ChatFamily::Mistral;
  } else if (contains(t, "<|user|>") && contains(t, "<|end|>")) {
    out = ChatFamily::Phi3;
  } else if (contains(t, "<|user|>") && contains(t, "<|assistant|>")) {
    out = ChatFamily::Zephyr;
  } else {
    return Status::error(
        std::string(t.empty() ? "the model has no chat template (tokenizer.chat_template)"
                              : "the model's chat template is not one Loam knows") +
        "; choose one with --chat-template NAME, NAME one of: " + chat_family_names());
  }
  return Status::ok();
}

Status resolve_chat_family(const std::string& template_text, const std::string& override_name,
                           ChatFamily& out) {
  if (override_name.empty()) return detect_chat_family(template_text, out);
  if (chat_family_from_name(override_name, out)) return Status::ok();
  return Status::error("unknown chat template '" + override_name + "' (--chat-template); " +
                       "known: " + chat_family_names());
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  switch (family_) {
    case ChatFamily::Llama2: return render_llama2(messages, specials_);
    case ChatFamily::Mistral: return render_mistral(messages, specials_);
    case ChatFamily::Llama3: return render_llama3(messages, add_generation_prompt);
    case ChatFamily::ChatML: return render_chatml(messages, add_generation_prompt);
    case ChatFamily::Zephyr:
      return render_role_tags(messages, add_generation_prompt, specials_.eos);
    case ChatFamily::Gemma: return render_gemma(messages, add_generation_prompt);
    case ChatFamily::Phi3: return render_role_tags(messages, add_generation_prompt, "<|end|>");
  }
  return std::string();
}

std::string ChatTemplate::end_of_turn() const {
  switch (family_) {
    case ChatFamily::Llama3: return "<|eot_id|>";
    case ChatFamily::ChatML: return "<|im_end|>";
    case ChatFamily::Gemma: return "<end_of_turn>";
    case ChatFamily::Phi3: return "<|end|>";
    case ChatFamily::Llama2:
    case ChatFamily::Mistral:
    case ChatFamily::Zephyr: return specials_.eos;
  }
  return specials_.eos;
}

}  // namespace loam
