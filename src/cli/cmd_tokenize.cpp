// `loam tokenize -m MODEL TEXT [--ids]`: the tokens a text becomes. One "ID -> 'PIECE'" line per
// token, or with --ids just the ids joined by commas (the form `loam logits --tokens` takes).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/chat_setup.h"
#include "cli/cli.h"
#include "loam/tokenizer.h"
#include "text/utf8.h"

namespace loam::cli {

namespace {

// `bytes` with every byte that is not part of a well-formed UTF-8 character written as \xNN: a
// byte-level token often holds part of a character (" \xF0\x9F" of " 🦙"), which a terminal
// would show as a replacement mark.
std::string escape_broken_utf8(const std::string& bytes) {
  std::string out;
  char hex[8];
  for (size_t i = 0; i < bytes.size();) {
    const auto lead = static_cast<uint8_t>(bytes[i]);
    const size_t len = utf8::strict_sequence_length(lead);
    bool ok = len > 0 && i + len <= bytes.size();
    if (ok && len >= 2) ok = utf8::second_byte_ok(lead, static_cast<uint8_t>(bytes[i + 1]));
    for (size_t k = 2; ok && k < len; ++k) {
      ok = utf8::is_continuation(static_cast<uint8_t>(bytes[i + k]));
    }
    if (ok) {
      out.append(bytes, i, len);
      i += len;
    } else {
      std::snprintf(hex, sizeof hex, "\\x%02X", lead);
      out += hex;
      ++i;
    }
  }
  return out;
}

// How a token reads: its text, except byte and control tokens, whose raw bytes (a lone UTF-8
// fragment, or nothing for <s>) would say less than their piece name.
std::string shown_piece(const Tokenizer& tok, const Vocab& v, int32_t id) {
  const TokenType type = static_cast<size_t>(id) < v.types.size()
                             ? v.types[static_cast<size_t>(id)]
                             : TokenType::Normal;
  if (type == TokenType::Byte || type == TokenType::Control || type == TokenType::Unknown) {
    return v.pieces[static_cast<size_t>(id)];
  }
  return escape_broken_utf8(tok.piece_bytes(id));
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  std::string model_path, tokenizer_path, text_option;
  bool ids_only = false, no_bos = false, parse_special = false;
  std::string messages_path, chat_template_name;  // --messages: a conversation instead of TEXT
  bool add_generation_prompt = false, show_text = false;
  std::vector<std::string> positionals;
  ArgParser parser("tokenize", "loam tokenize -m MODEL TEXT [--ids]",
                   "Prints the tokens TEXT becomes with the model's vocabulary, BOS included when\n"
                   "the model adds one: one \"ID -> 'PIECE'\" line per token.");
  parser.positionals("TEXT", "the text to tokenize (or -p TEXT)", &positionals, 1);
  parser.text("-m", "--model", "FILE", "model whose vocabulary to use", &model_path);
  parser.text("-p", "--prompt", "TEXT", "the text (instead of the TEXT argument)", &text_option);
  parser.flag("", "--ids", "print only the ids, comma-separated (input for 'loam logits --tokens')",
              &ids_only);
  parser.flag("", "--no-bos", "do not add BOS even if the model asks for it", &no_bos);
  parser.flag("", "--special", "special-token text in TEXT (<|eot_id|>, <s>) becomes that token "
              "(default: plain text)", &parse_special);
  parser.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint",
              &tokenizer_path);
  parser.text("", "--messages", "FILE", "tokenize a conversation rendered with the model's chat "
              "template instead of TEXT: a JSON array of {\"role\", \"content\"} ('-' = stdin)",
              &messages_path);
  parser.flag("", "--add-generation-prompt", "with --messages: end with the header that opens "
              "the assistant's turn", &add_generation_prompt);
  parser.flag("", "--show-text", "with --messages: print the rendered prompt first",
              &show_text);
  parser.text("", "--chat-template", "NAME", "with --messages: this template instead of the "
              "model's (" + chat_family_names() + ")", &chat_template_name);
  parser.epilog("examples:\n  loam tokenize -m models/stories15M.bin --tokenizer "
                "models/tokenizer.bin \"Hello world\" --ids\n"
                "  loam tokenize -m ggml-vocab-llama3.gguf --special "
                "\"<|start_header_id|>user<|end_header_id|>\"\n"
                "  (a vocab-only GGUF, without tensors, is enough)");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (!chat_template_name.empty()) {
    ChatFamily family = ChatFamily::ChatML;
    if (Status st = resolve_chat_family("", chat_template_name, family); !st) {
      return usage_error("tokenize", st.message());
    }
  }
  if (!positionals.empty() && parser.given("--prompt")) {
    return usage_error("tokenize", "give the text once: TEXT or -p TEXT");
  }
  const bool messages_mode = parser.given("--messages");
  if (messages_mode && (!positionals.empty() || parser.given("--prompt"))) {
    return usage_error("tokenize", "give TEXT or --messages FILE, not both");
  }
  if (!messages_mode && (add_generation_prompt || show_text || parser.given("--chat-template"))) {
    return usage_error("tokenize", "--add-generation-prompt, --show-text and --chat-template "
                       "go with --messages FILE");
  }
  if (positionals.empty() && !parser.given("--prompt") && !messages_mode) {
    return usage_error("tokenize", "missing TEXT to tokenize");
  }
  const std::string text = positionals.empty() ? text_option : positionals[0];
  if (model_path.empty()) {
    if (Status st = default_model_path(model_path); !st) {
      return usage_error("tokenize", st.message());
    }
  }

  // The conversation is checked before the (possibly long) model load.
  std::vector<ChatMessage> messages;
  if (messages_mode) {
    if (Status st = read_messages_file(messages_path, messages); !st) {
      return runtime_error(st.message());
    }
  }

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  // A vocab-only GGUF (ggml-vocab-*.gguf) is enough: only the vocabulary is used.
  if (Status st = load_model_or_vocab_timed(model_path, tokenizer_path, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  if (Status st = require_vocab(*model, "tokenize"); !st) return runtime_error(st.message());

  const Tokenizer tokenizer(model->vocab);
  std::vector<int32_t> ids =
      tokenizer.encode(text, model->vocab.add_bos && !no_bos, parse_special);
  if (messages_mode) {
    std::optional<ChatTemplate> chat_template;
    if (Status st = make_chat_template(model_path, model->vocab, chat_template_name,
                                       chat_template);
        !st) {
      return runtime_error(st.message());
    }
    const std::string prompt = chat_template->render(messages, add_generation_prompt);
    ids = tokenize_chat_prompt(tokenizer, prompt, model->vocab.add_bos && !no_bos);
    if (show_text) {
      std::fwrite(prompt.data(), 1, prompt.size(), stdout);
      std::fputc('\n', stdout);
    }
  }
  if (ids_only) {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? "," : "") + std::to_string(ids[i]);
    std::printf("%s\n", line.c_str());
  } else {
    for (int32_t id : ids) {
      std::printf("%6d -> '%s'\n", id, shown_piece(tokenizer, model->vocab, id).c_str());
    }
  }
  return kExitOk;
}

}  // namespace loam::cli
