// What `loam chat`, `loam tokenize --messages` and `loam info` share about chat templates:
// reading the template from the model file, choosing the family (--chat-template or detection),
// and turning a rendered prompt into ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loam/status.h"
#include "loam/tokenizer.h"
#include "text/chat_template.h"

namespace loam::cli {

// The chat template of the model at `model_path`: the GGUF key tokenizer.chat_template, or
// tokenizer_config.json's chat_template for a Hugging Face checkpoint; "" for a llama2.c
// checkpoint or a model without one.
Status read_chat_template_text(const std::string& model_path, std::string& out);

// The template to use for the model at `model_path` with vocabulary `vocab`: `override_name`
// (--chat-template) when given, else the family detected from the file's template. The
// vocabulary's BOS and EOS pieces are the texts the Llama 2, Mistral and Zephyr formats write.
Status make_chat_template(const std::string& model_path, const Vocab& vocab,
                          const std::string& override_name, std::optional<ChatTemplate>& out);

// "llama3", or "none" / "unknown" with the reason, for `loam info`.
std::string describe_chat_template(const std::string& model_path);

// The ids of a rendered prompt: special-token text (<|eot_id|>, </s>, ...) becomes those tokens,
// and BOS goes first when `add_bos` (the rendered text never holds the leading BOS: see
// src/text/chat_template.h).
std::vector<int32_t> tokenize_chat_prompt(const Tokenizer& tokenizer, const std::string& text,
                                          bool add_bos);

// Reads a messages file (a JSON array of {"role", "content"}; "-" = stdin). Errors name the file.
Status read_messages_file(const std::string& path, std::vector<ChatMessage>& out);

// The token that is the template's end-of-turn text, or -1 when no single token is.
int32_t end_of_turn_token(const Tokenizer& tokenizer, const ChatTemplate& chat_template);

}  // namespace loam::cli
