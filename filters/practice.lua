-- On a day's page: a "Practise this" line naming the exercises the day introduced (`mechlearn practice start NAME`),
-- linked to the Exercises page. The exercises come from _exercises.json at the project root, which
-- `mechlearn progress` generates from mechlearn.practice.catalogue (and `mechlearn check` keeps current). The line
-- goes at the end of the block filters/uses.lua puts under the title, or first on a page without one; pages that
-- are not days, or days without exercises, are left alone.

local cwd = pandoc.system.get_working_directory()
local project_dir = quarto and quarto.project and quarto.project.directory or cwd

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

local function exercises_of(day)
  local file = io.open(pandoc.path.join({ project_dir, "_exercises.json" }), "r")
  if not file then
    return nil
  end
  local data = pandoc.json.decode(file:read("a"), false)
  file:close()
  return data and data.days and data.days[day]
end

function Pandoc(doc)
  local day = doc.meta.day
  if day == nil then
    return nil
  end
  local names = exercises_of(pandoc.utils.stringify(day))
  if names == nil or #names == 0 then
    return nil
  end
  -- one exercise: Practise this: `mechlearn practice start unbroadcast` (all exercises)
  -- several: Practise this: `conv2d`, `max_pool2d` with `mechlearn practice start NAME` (all exercises)
  local inlines = pandoc.Inlines({ pandoc.Str("Practise"), pandoc.Space(), pandoc.Str("this:"), pandoc.Space() })
  if #names == 1 then
    inlines:insert(pandoc.Code("mechlearn practice start " .. names[1]))
  else
    for i, name in ipairs(names) do
      if i > 1 then
        inlines:extend({ pandoc.Str(","), pandoc.Space() })
      end
      inlines:insert(pandoc.Code(name))
    end
    inlines:extend({ pandoc.Space(), pandoc.Str("with"), pandoc.Space() })
    inlines:insert(pandoc.Code("mechlearn practice start NAME"))
  end
  inlines:extend({ pandoc.Space(), pandoc.Str("("), pandoc.Link("all exercises", offset() .. "/exercises.qmd") })
  inlines:insert(pandoc.Str(")"))
  local line = pandoc.Para(inlines)
  for _, block in ipairs(doc.blocks) do
    if block.t == "Div" and block.classes:includes("ml-uses") then
      block.content:insert(line)
      return doc
    end
  end
  doc.blocks:insert(1, pandoc.Div({ line }, pandoc.Attr("", { "ml-practice" })))
  return doc
end
