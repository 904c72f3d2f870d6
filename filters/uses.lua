-- On a day's page, right under the title block: the ARENA section the day follows, and the techniques it used
-- with the sub-problem each one solved, linked to their index pages (techniques/<term>.qmd,
-- subproblems/<term>.qmd). Titles and URLs come from vocabulary.yml at the project root, the same file
-- `mechlearn check` validates the front matter against; pages without `uses`/`arena` are left alone.

local stringify = pandoc.utils.stringify
local cwd = pandoc.system.get_working_directory()
-- Under Quarto the `quarto` module says where the project is; under plain pandoc (the tests) the working directory
-- is the project and the page is the input file.
local project_dir = quarto and quarto.project and quarto.project.directory or cwd

local function warn(message)
  if quarto and quarto.log then
    quarto.log.warning(message)
  else
    io.stderr:write("WARNING: " .. message .. "\n")
  end
end

-- From the page's folder to the project root, e.g. "../.." for daily_logs/day-014-x/index.ipynb.
local function offset()
  if quarto and quarto.project and quarto.project.offset then
    return quarto.project.offset
  end
  local input = PANDOC_STATE.input_files[1] or "index.md"
  if not pandoc.path.is_absolute(input) then
    input = pandoc.path.join({ cwd, input })
  end
  return pandoc.path.make_relative(project_dir, pandoc.path.directory(input), true)
end

local function read_vocabulary()
  local file = io.open(pandoc.path.join({ project_dir, "vocabulary.yml" }), "r")
  if not file then
    warn("uses.lua: vocabulary.yml not found in " .. project_dir)
    return nil
  end
  local text = file:read("a")
  file:close()
  -- pandoc reads YAML only as a document's metadata block (which must not open with a blank line); the values
  -- arrive as Markdown inlines.
  return pandoc.read("---\n" .. text:gsub("^%s+", "") .. "\n---\n", "markdown").meta
end

local function term_link(vocab, section, term, up)
  local entry = vocab[section] and vocab[section][term]
  if not entry then
    warn("uses.lua: '" .. term .. "' is not in vocabulary.yml's " .. section)
    return pandoc.Code(term)
  end
  return pandoc.Link(entry.title, up .. "/" .. section .. "/" .. term .. ".qmd")
end

function Pandoc(doc)
  local uses, arena = doc.meta.uses, doc.meta.arena
  if uses == nil and arena == nil then
    return nil
  end
  local vocab = read_vocabulary()
  if vocab == nil then
    return nil
  end
  local up = offset()
  local blocks = {}
  -- `arena: "none"` (mechlearn.vocabulary.NO_SECTION): the day follows no ARENA section, and says nothing about it.
  if arena ~= nil and stringify(arena) ~= "none" then
    local number = stringify(arena)
    local section = vocab.arena and vocab.arena[number]
    if section then
      local text = pandoc.Inlines("ARENA " .. number .. ": ")
      text:extend(section.title)
      blocks[#blocks + 1] = pandoc.Para({ pandoc.Str("Follows"), pandoc.Space(), pandoc.Link(text, stringify(section.url)) })
    else
      warn("uses.lua: arena '" .. number .. "' is not in vocabulary.yml")
    end
  end
  if uses ~= nil and #uses > 0 then
    local items = {}
    for _, use in ipairs(uses) do
      items[#items + 1] = pandoc.Plain({
        term_link(vocab, "techniques", stringify(use.technique), up),
        pandoc.Space(), pandoc.Str("→"), pandoc.Space(),
        term_link(vocab, "subproblems", stringify(use.solves), up),
      })
    end
    blocks[#blocks + 1] = pandoc.Para({ pandoc.Str("Techniques used → sub-problem solved:") })
    blocks[#blocks + 1] = pandoc.BulletList(items)
  end
  if #blocks > 0 then
    doc.blocks:insert(1, pandoc.Div(blocks, pandoc.Attr("", { "ml-uses" })))
  end
  return doc
end
