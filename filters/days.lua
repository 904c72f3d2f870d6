--[[ Every "day N", "Day N" or "days N–M" in a page's prose becomes a link to that day's entry.

Pages write day numbers as plain text; this filter finds the entries (daily_logs/day-NNN-<slug>/ folders) and links
each mention relative to the page being rendered. "day 12" links the whole phrase; in "days 22–31", "days 35 and 42"
or "days 2, 3 and 5" each number is its own link. A day with no folder yet stays plain text, a page never links to
itself, and code, links, headings, images and citations are left as they are.
]]

local days = {}       -- day number -> absolute path of its notebook
local here = nil      -- absolute folder of the page being rendered

local function entries(project_dir)
  local logs = pandoc.path.join({ project_dir, "daily_logs" })
  local ok, names = pcall(pandoc.system.list_directory, logs)
  if not ok then
    return
  end
  for _, name in ipairs(names) do
    local n = name:match("^day%-(%d%d%d)%-")
    if n then
      days[tonumber(n)] = pandoc.path.join({ logs, name, "index.ipynb" })
    end
  end
end

-- The link to day `n` from this page, or nil when there is none (no such day, or the page is that day).
local function target(n)
  local notebook = days[n]
  if notebook == nil or pandoc.path.directory(notebook) == here then
    return nil
  end
  return pandoc.path.make_relative(notebook, here, true)
end

-- "(day" -> "(", "day"; "today" does not count (a letter before "day").
local function day_word(el)
  if el == nil or el.t ~= "Str" then
    return nil
  end
  local prefix, word = el.text:match("^(.-)([Dd]ays?)$")
  if word == nil or prefix:match("%a$") then
    return nil
  end
  return prefix, word
end

local function is_space(el)
  return el ~= nil and (el.t == "Space" or el.t == "SoftBreak")
end

local DASHES = { "–", "—", "-" }

-- "22–31," -> 22, "–", "31,"  |  "12." -> 12, nil, "."
local function number_and_rest(text)
  local n, rest = text:match("^(%d+)(.*)$")
  if n == nil then
    return nil
  end
  for _, dash in ipairs(DASHES) do
    if rest:sub(1, #dash) == dash and rest:sub(#dash + 1):match("^%d") then
      return tonumber(n), dash, rest:sub(#dash + 1)
    end
  end
  return tonumber(n), nil, rest
end

local function linked(n, content)
  local href = target(n)
  if href == nil then
    return content
  end
  return { pandoc.Link(content, href) }
end

local function append(list, items)
  for _, item in ipairs(items) do
    list:insert(item)
  end
end

-- "22–31," in a plural mention: each number linked, the dash and trailing punctuation kept.
local function numbers_in(text, out)
  local n, dash, rest = number_and_rest(text)
  append(out, linked(n, { pandoc.Str(tostring(n)) }))
  while dash do
    out:insert(pandoc.Str(dash))
    n, dash, rest = number_and_rest(rest)
    append(out, linked(n, { pandoc.Str(tostring(n)) }))
  end
  if rest ~= "" then
    out:insert(pandoc.Str(rest))
  end
  return rest
end

local JOINERS = { ["and"] = true, ["or"] = true, ["to"] = true, ["through"] = true }

local function link_days(inlines)
  local out = pandoc.Inlines({})
  local i = 1
  while i <= #inlines do
    local prefix, word = day_word(inlines[i])
    local num = inlines[i + 2]
    if word and is_space(inlines[i + 1]) and num and num.t == "Str" and number_and_rest(num.text) then
      if prefix ~= "" then
        out:insert(pandoc.Str(prefix))
      end
      if word:lower() == "day" then
        local digits = num.text:match("^%d+")
        local rest = num.text:sub(#digits + 1)
        local href = target(tonumber(digits))
        if href then
          out:insert(pandoc.Link({ pandoc.Str(word), pandoc.Space(), pandoc.Str(digits) }, href))
          if rest ~= "" then
            out:insert(pandoc.Str(rest))
          end
        else
          append(out, { inlines[i], inlines[i + 1], num })
        end
        i = i + 3
      else
        append(out, { pandoc.Str(word), inlines[i + 1] })
        local rest = numbers_in(num.text, out)
        i = i + 3
        -- further numbers of the same mention: ", 3", " and 5", ", 7 or 9"
        while true do
          local a, b, c = inlines[i], inlines[i + 1], inlines[i + 2]
          if (rest == "," or rest == "") and is_space(a) and b and b.t == "Str" and number_and_rest(b.text) then
            append(out, { a })
            rest = numbers_in(b.text, out)
            i = i + 2
          elseif rest == "" and is_space(a) and b and b.t == "Str" and JOINERS[b.text] and is_space(c)
              and inlines[i + 3] and inlines[i + 3].t == "Str" and number_and_rest(inlines[i + 3].text) then
            append(out, { a, b, c })
            rest = numbers_in(inlines[i + 3].text, out)
            i = i + 4
          else
            break
          end
        end
      end
    else
      out:insert(inlines[i])
      i = i + 1
    end
  end
  return out
end

local function keep(el)
  return el, false
end

local prose = {
  traverse = "topdown",
  Inlines = link_days,
  Link = keep,
  Header = keep,
  Image = keep,
  Cite = keep,
  Code = keep,
  CodeBlock = keep,
  RawBlock = keep,
  RawInline = keep,
}

function Pandoc(doc)
  local input = quarto and quarto.doc and quarto.doc.input_file or PANDOC_STATE.input_files[1]
  local project_dir = quarto and quarto.project and quarto.project.directory or pandoc.system.get_working_directory()
  if input == nil or project_dir == nil then
    return doc
  end
  if not pandoc.path.is_absolute(input) then
    input = pandoc.path.join({ pandoc.system.get_working_directory(), input })
  end
  here = pandoc.path.directory(pandoc.path.normalize(input))
  entries(project_dir)
  doc.blocks = doc.blocks:walk(prose)
  return doc
end
