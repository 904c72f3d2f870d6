--[[ Standard LaTeX sizing commands that pandoc's TeX-to-MathML converter (texmath, in pandoc 3.6) cannot read.

The site writes math as MathML at build time (`html-math-method: mathml`), so any formula texmath rejects reaches
the reader as raw TeX (pandoc warns "Could not convert TeX math"). texmath reads \big, \Big, \bigl, \Bigr, \biggl,
... but not \Bigl nor the middle forms \bigm, \Bigm, \biggm, \Biggm. Each is rewritten to the plain size command of
the same height, which draws the same delimiter; authors keep writing ordinary LaTeX.
]]

local SAME_HEIGHT = {
  Bigl = "Big",
  bigm = "big",
  Bigm = "Big",
  biggm = "bigg",
  Biggm = "Bigg",
}

function Math(el)
  el.text = el.text:gsub("\\(%a+)", function(name)
    local plain = SAME_HEIGHT[name]
    return plain and ("\\" .. plain) or nil
  end)
  return el
end
