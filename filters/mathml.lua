--[[ Formulas as MathML that Chromium, Firefox and Safari draw well, written at build time.

The site's math method is MathML (`html-math-method: mathml`): no script, no third-party host. Two gaps of pandoc's
TeX-to-MathML converter (texmath, in pandoc 3.6) are closed here, after Quarto's own filters have run
(`at: post-quarto` in _quarto.yml, so equation cross-references still see ordinary Math elements):

1. texmath cannot read \Bigl nor the middle sizes \bigm, \Bigm, \biggm, \Biggm, and leaves such a formula as raw
   TeX (warning "Could not convert TeX math"). Each is rewritten to the plain size command of the same height.
2. An accent over one letter (\hat A, \bar x, \vec v) is written as a stretchy operator; with the site's math font
   (styles.css) browsers stretch it into a wide arc over the letter. Over a single letter it is marked
   stretchy="false"; over several (\widehat{AB}) it still stretches.
]]

local SAME_HEIGHT = {
  Bigl = "Big",
  bigm = "big",
  Bigm = "Big",
  biggm = "bigg",
  Biggm = "Bigg",
}

local function readable_tex(tex)
  return (tex:gsub("\\(%a+)", function(name)
    local plain = SAME_HEIGHT[name]
    return plain and ("\\" .. plain) or nil
  end))
end

local function mathml(el)
  local html = pandoc.write(pandoc.Pandoc({ pandoc.Plain({ el }) }), "html", { html_math_method = "mathml" })
  html = html:gsub("^%s+", ""):gsub("%s+$", "")
  if not html:match("^<math") then
    return nil -- texmath could not read it: keep the Math element, so that pandoc warns and the site check reports it
  end
  html = html:gsub('(<mover><m[in]>[^<]*</m[in]><mo accent="true")>', '%1 stretchy="false">')
  return html
end

function Math(el)
  el.text = readable_tex(el.text)
  if not FORMAT:match("html") then
    return el
  end
  local html = mathml(el)
  return html and pandoc.RawInline("html", html) or el
end
