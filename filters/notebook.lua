--[[ A day's page offers its notebook: a "Download the notebook" link above the text, to the .ipynb itself.

_quarto.yml lists the entries' notebooks among the site's resources, so each is copied beside its page. The link
carries `data-noresolveinput`, which tells Quarto to keep it pointing at the .ipynb instead of rewriting it to the
page rendered from it. Pages that are not a day's notebook are left alone.
]]

function Pandoc(doc)
  local input = quarto and quarto.doc and quarto.doc.input_file or PANDOC_STATE.input_files[1] or ""
  local folder = input:match("daily_logs[/\\](day%-%d%d%d%-[^/\\]+)[/\\]index%.ipynb$")
  if folder == nil or not FORMAT:match("html") then
    return doc
  end
  local link = pandoc.Link(
    { pandoc.Str("Download"), pandoc.Space(), pandoc.Str("the"), pandoc.Space(), pandoc.Str("notebook") },
    "index.ipynb",
    "",
    pandoc.Attr("", {}, { { "data-noresolveinput", "" }, { "download", folder .. ".ipynb" } })
  )
  local line = pandoc.Div(
    { pandoc.Para({ link, pandoc.Str(" (" .. folder .. ".ipynb): run it, or read it in Jupyter.") }) },
    pandoc.Attr("", { "ml-notebook-link" })
  )
  doc.blocks:insert(1, line)
  return doc
end
