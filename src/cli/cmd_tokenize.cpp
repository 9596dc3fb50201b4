// `loam tokenize -m MODEL TEXT [--ids]`: the tokens a text becomes. One "ID -> 'PIECE'" line per
// token, or with --ids just the ids joined by commas (the form `loam logits --tokens` takes).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "loam/tokenizer.h"

namespace loam::cli {

namespace {

// How a token reads: its text, except byte and control tokens, whose raw bytes (a lone UTF-8
// fragment, or nothing for <s>) would say less than their piece name.
std::string shown_piece(const Tokenizer& tok, const Vocab& v, int32_t id) {
  const TokenType type = static_cast<size_t>(id) < v.types.size()
                             ? v.types[static_cast<size_t>(id)]
                             : TokenType::Normal;
  if (type == TokenType::Byte || type == TokenType::Control || type == TokenType::Unknown) {
    return v.pieces[static_cast<size_t>(id)];
  }
  return tok.piece_bytes(id);
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  std::string model_path, tokenizer_path, text_option;
  bool ids_only = false, no_bos = false;
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
  parser.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint",
              &tokenizer_path);
  parser.epilog("example:\n  loam tokenize -m models/stories15M.bin --tokenizer "
                "models/tokenizer.bin \"Hello world\" --ids");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (!positionals.empty() && parser.given("--prompt")) {
    return usage_error("tokenize", "give the text once: TEXT or -p TEXT");
  }
  if (positionals.empty() && !parser.given("--prompt")) {
    return usage_error("tokenize", "missing TEXT to tokenize");
  }
  const std::string text = positionals.empty() ? text_option : positionals[0];
  if (model_path.empty()) {
    if (Status st = default_model_path(model_path); !st) {
      return usage_error("tokenize", st.message());
    }
  }

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  if (Status st = load_model_timed(model_path, tokenizer_path, false, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  if (Status st = require_vocab(*model, "tokenize"); !st) return runtime_error(st.message());

  const Tokenizer tokenizer(model->vocab);
  const std::vector<int32_t> ids = tokenizer.encode(text, model->vocab.add_bos && !no_bos);
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
