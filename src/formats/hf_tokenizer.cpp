// tokenizer.json / tokenizer_config.json readers for byte-level BPE (Llama 3).
#include "formats/hf_tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "core/json.h"
#include "text/byte_bpe.h"
#include "text/special_tokens.h"

namespace loam {

namespace {

// Beyond any real vocabulary (Gemma's 262k); ids above it are refused before they size a vector.
constexpr int64_t kMaxVocab = 1 << 22;

// The split regex of Llama 3's tokenizer.json (tiktoken's cl100k pattern with \p{N}{1,3}), the
// one llama.cpp names "llama-bpe".
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::string type_of(const json::Value* v) {
  if (v == nullptr) return "none";
  const json::Value* t = v->find("type");
  return t != nullptr && t->is_string() ? t->as_string() : "?";
}

// Llama 3's pre_tokenizer: Sequence[Split(llama3 regex, Isolated), ByteLevel(use_regex false)].
Status check_pre_tokenizer(const json::Value* pre, const std::string& path, std::string& name) {
  const std::string what = path + ": pre_tokenizer ";
  if (pre == nullptr || !pre->is_object() || type_of(pre) != "Sequence") {
    return Status::error(what + "of type '" + type_of(pre) +
                         "' is not supported (only Llama 3's: Sequence of Split and ByteLevel)");
  }
  const json::Value* list = pre->find("pretokenizers");
  if (list == nullptr || !list->is_array() || list->as_array().size() != 2) {
    return Status::error(what + "is not Llama 3's Split + ByteLevel sequence");
  }
  const json::Value& split = list->as_array()[0];
  const json::Value& byte_level = list->as_array()[1];
  const json::Value* pattern = split.find("pattern");
  const json::Value* regex = pattern != nullptr ? pattern->find("Regex") : nullptr;
  if (type_of(&split) != "Split" || regex == nullptr || !regex->is_string()) {
    return Status::error(what + "does not start with a Split on a regex");
  }
  if (regex->as_string() != kLlama3Regex) {
    return Status::error(what + "splits on the regex '" + regex->as_string() +
                         "', not Llama 3's (only the llama-bpe pre-tokenizer is supported)");
  }
  const json::Value* use_regex = byte_level.find("use_regex");
  if (type_of(&byte_level) != "ByteLevel" || (use_regex != nullptr && use_regex->as_bool())) {
    return Status::error(what + "does not end with ByteLevel (use_regex false)");
  }
  name = "llama-bpe";
  return Status::ok();
}

// Whether the post_processor adds a leading special token (TemplateProcessing, possibly inside a
// Sequence, as llama.cpp's gguf-py reads it). -1: it says nothing.
int post_processor_adds_bos(const json::Value* pp) {
  if (pp == nullptr || !pp->is_object()) return -1;
  const std::string type = type_of(pp);
  if (type == "Sequence") {
    const json::Value* list = pp->find("processors");
    if (list == nullptr) return -1;
    for (const json::Value& p : list->as_array()) {
      const int r = post_processor_adds_bos(&p);
      if (r >= 0) return r;
    }
    return -1;
  }
  if (type != "TemplateProcessing") return -1;
  const json::Value* single = pp->find("single");
  if (single == nullptr || !single->is_array() || single->as_array().empty()) return 0;
  return single->as_array()[0].find("SpecialToken") != nullptr ? 1 : 0;
}

// bos_token / eos_token: a string, or {"content": ...} (AddedToken form), or null.
std::string token_text(const json::Value* v) {
  if (v == nullptr) return "";
  if (v->is_string()) return v->as_string();
  const json::Value* c = v->find("content");
  return c != nullptr && c->is_string() ? c->as_string() : "";
}

// chat_template: a string, or [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
// (the default one is taken).
Status chat_template_of(const json::Value& doc, const std::string& path, std::string& out) {
  out.clear();
  const json::Value* tmpl = doc.find("chat_template");
  if (tmpl == nullptr || tmpl->is_null()) return Status::ok();
  if (tmpl->is_string()) {
    out = tmpl->as_string();
    return Status::ok();
  }
  if (!tmpl->is_array()) {
    return Status::error(path + ": chat_template is neither a string nor a list");
  }
  for (const json::Value& t : tmpl->as_array()) {
    const json::Value* name = t.find("name");
    const json::Value* body = t.find("template");
    if (name && body && name->as_string() == "default") out = body->as_string();
  }
  return Status::ok();
}

}  // namespace

Status parse_hf_tokenizer_json(const std::string& text, const std::string& path,
                               HfTokenizer& out) {
  json::Value doc;
  if (Status st = json::parse(text, doc); !st) return Status::error(path + ": " + st.message());
  const json::Value* model = doc.find("model");
  if (model == nullptr || !model->is_object()) return Status::error(path + ": no \"model\"");
  if (type_of(model) != "BPE") {
    return Status::error(path + ": tokenizer model of type '" + type_of(model) +
                         "' is not supported (BPE)");
  }
  HfTokenizer tok;
  LOAM_TRY(check_pre_tokenizer(doc.find("pre_tokenizer"), path, tok.pre));

  const json::Value* vocab = model->find("vocab");
  if (vocab == nullptr || !vocab->is_object() || vocab->as_object().empty()) {
    return Status::error(path + ": model.vocab is not a non-empty object");
  }
  std::vector<std::pair<int64_t, const std::string*>> entries;
  int64_t n = 0;
  auto check_id = [&](const json::Value& id, const std::string& piece) -> Status {
    if (!id.is_integer() || id.as_int64() < 0 || id.as_int64() >= kMaxVocab) {
      return Status::error(path + ": token '" + piece + "' has id outside 0.." +
                           std::to_string(kMaxVocab - 1));
    }
    if (id.as_int64() + 1 > n) n = id.as_int64() + 1;
    return Status::ok();
  };
  for (const json::Member& m : vocab->as_object()) {
    LOAM_TRY(check_id(m.second, m.first));
    entries.emplace_back(m.second.as_int64(), &m.first);
  }
  const json::Value* added = doc.find("added_tokens");
  if (added != nullptr && !added->is_array()) {
    return Status::error(path + ": added_tokens is not a list");
  }
  static const json::Array kNone;
  const json::Array& added_list = added != nullptr ? added->as_array() : kNone;
  for (const json::Value& a : added_list) {
    const json::Value* id = a.find("id");
    const json::Value* content = a.find("content");
    if (id == nullptr || content == nullptr || !content->is_string()) {
      return Status::error(path + ": an added_tokens entry lacks \"id\" or \"content\"");
    }
    LOAM_TRY(check_id(*id, content->as_string()));
  }
  tok.pieces.assign(static_cast<size_t>(n), std::string());
  tok.types.assign(static_cast<size_t>(n), TokenType::Unused);
  std::vector<bool> named(static_cast<size_t>(n), false);
  for (const auto& [id, piece] : entries) {
    const size_t i = static_cast<size_t>(id);
    if (named[i]) {
      return Status::error(path + ": tokens '" + tok.pieces[i] + "' and '" + *piece +
                           "' share id " + std::to_string(id));
    }
    named[i] = true;
    tok.pieces[i] = *piece;
    tok.types[i] = TokenType::Normal;
  }
  // Added tokens may repeat a vocab entry (same id, same text) and then only retype it.
  for (const json::Value& a : added_list) {
    const size_t i = static_cast<size_t>(a.find("id")->as_int64());
    const std::string& content = a.find("content")->as_string();
    if (named[i] && tok.pieces[i] != content) {
      return Status::error(path + ": added token '" + content + "' reuses id " +
                           std::to_string(i) + " of '" + tok.pieces[i] + "'");
    }
    const json::Value* special = a.find("special");
    named[i] = true;
    tok.pieces[i] = content;
    tok.types[i] = special != nullptr && special->as_bool() ? TokenType::Control
                                                            : TokenType::UserDefined;
  }
  for (size_t i = 0; i < named.size(); ++i) {
    if (!named[i]) tok.pieces[i] = "[PAD" + std::to_string(i) + "]";
  }

  const json::Value* merges = model->find("merges");
  if (merges != nullptr && !merges->is_array()) {
    return Status::error(path + ": model.merges is not a list");
  }
  if (merges != nullptr) {
    tok.merges.reserve(merges->as_array().size());
    for (const json::Value& m : merges->as_array()) {
      // "a b" (tokenizers < 0.20) or ["a", "b"] (newer files).
      if (m.is_string() && m.as_string().find(' ') != std::string::npos) {
        tok.merges.push_back(m.as_string());
      } else if (m.is_array() && m.as_array().size() == 2 && m.as_array()[0].is_string() &&
                 m.as_array()[1].is_string()) {
        tok.merges.push_back(m.as_array()[0].as_string() + " " + m.as_array()[1].as_string());
      } else {
        return Status::error(path + ": merge " + std::to_string(tok.merges.size()) +
                             " is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
  }
  const int bos = post_processor_adds_bos(doc.find("post_processor"));
  if (bos >= 0) tok.add_bos = bos == 1;
  out = std::move(tok);
  return Status::ok();
}

Status parse_hf_tokenizer_config(const std::string& text, const std::string& path,
                                 HfTokenizer& tok) {
  json::Value doc;
  if (Status st = json::parse(text, doc); !st) return Status::error(path + ": " + st.message());
  if (!doc.is_object()) return Status::error(path + ": not a JSON object");
  std::unordered_map<std::string, int32_t> special;  // text of control/user tokens -> id
  for (size_t i = 0; i < tok.pieces.size(); ++i) {
    if (tok.types[i] == TokenType::Control || tok.types[i] == TokenType::UserDefined) {
      special.emplace(tok.pieces[i], static_cast<int32_t>(i));
    }
  }
  auto lookup = [&](const char* key, int32_t& id) -> Status {
    const std::string t = token_text(doc.find(key));
    if (t.empty()) return Status::ok();
    auto it = special.find(t);
    if (it == special.end()) {
      // A normal vocab entry can serve too (older Llama 2 style "<s>").
      for (size_t i = 0; i < tok.pieces.size(); ++i) {
        if (tok.pieces[i] == t) {
          id = static_cast<int32_t>(i);
          return Status::ok();
        }
      }
      return Status::error(path + ": " + key + " '" + t + "' is not in the vocabulary");
    }
    id = it->second;
    return Status::ok();
  };
  LOAM_TRY(lookup("bos_token", tok.bos_id));
  LOAM_TRY(lookup("eos_token", tok.eos_id));
  if (const json::Value* add = doc.find("add_bos_token"); add != nullptr && add->is_bool()) {
    tok.add_bos = add->as_bool();
  }
  return chat_template_of(doc, path, tok.chat_template);
}

Status parse_hf_chat_template(const std::string& text, const std::string& path,
                              std::string& out) {
  json::Value doc;
  if (Status st = json::parse(text, doc); !st) return Status::error(path + ": " + st.message());
  return chat_template_of(doc, path, out);
}

Status pad_hf_vocab(HfTokenizer& tok, int64_t n_vocab, const std::string& path) {
  const int64_t n = static_cast<int64_t>(tok.pieces.size());
  if (n > n_vocab) {
    return Status::error(path + ": the tokenizer has " + std::to_string(n) +
                         " tokens but the model's vocab_size is " + std::to_string(n_vocab));
  }
  for (int64_t i = n; i < n_vocab; ++i) {
    tok.pieces.push_back("[PAD" + std::to_string(i) + "]");
    tok.types.push_back(TokenType::Unused);
  }
  return Status::ok();
}

Status fill_vocab_from_hf(const HfTokenizer& tok, const std::vector<int64_t>& eos_ids,
                          const std::string& source, Vocab& v) {
  Vocab out;
  out.model = "gpt2";
  out.pre = tok.pre;
  out.pieces = tok.pieces;
  out.types = tok.types;
  out.merges = tok.merges;
  out.scores.assign(tok.pieces.size(), 0.0f);
  if (tok.bos_id >= 0) out.bos_id = tok.bos_id;
  if (tok.eos_id >= 0) out.eos_id = tok.eos_id;
  out.unk_id = -1;                // byte-level BPE has no unknown token
  out.add_bos = tok.add_bos;
  out.add_space_prefix = false;   // nor a space prefix (spaces are part of the tokens)
  LOAM_TRY(ByteBpe::build(out, source, out.byte_bpe));
  find_end_of_generation_ids(out);
  // config.json / generation_config.json list every id that ends generation (Llama 3.1:
  // end_of_text, eom_id, eot_id): they all stop, as in transformers' generate().
  for (const int64_t id : eos_ids) {
    const int32_t i = static_cast<int32_t>(id);
    if (std::find(out.eog_ids.begin(), out.eog_ids.end(), i) == out.eog_ids.end()) {
      out.eog_ids.push_back(i);
    }
  }
  std::sort(out.eog_ids.begin(), out.eog_ids.end());
  v = std::move(out);
  return Status::ok();
}

}  // namespace loam
