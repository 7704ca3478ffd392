" phi4.vim — ask phi4-server to rewrite text, from Vim (8+) or Neovim.
"
"   :[range]Phi4 {instruction}    replace the lines (default: the current
"                                 line) with the model's answer
"   <Leader>p in Visual mode      the same for the selected lines; asks for
"                                 the instruction
"
" Settings (optional):
"   g:phi4_server      base URL of phi4-server (default http://127.0.0.1:8080)
"   g:phi4_model       model name to send (default: none, the loaded one)
"   g:phi4_max_tokens  answer length limit (default 1024)
"   g:phi4_system      system message
"
" It posts to /v1/chat/completions with curl (system(), so no job plumbing
" that differs between Vim and Neovim) and keeps the text if anything fails.
if exists('g:loaded_phi4')
  finish
endif
let g:loaded_phi4 = 1

function! s:setting(name, default) abort
  return get(g:, 'phi4_' . a:name, a:default)
endfunction

" The request body: the instruction and the text as one user message.
function! phi4#request(instruction, text) abort
  let l:request = {
        \ 'messages': [
        \   {'role': 'system', 'content': s:setting('system',
        \     'You edit text. Reply with the rewritten text only: no explanations, no code fences.')},
        \   {'role': 'user', 'content': a:instruction . "\n\n" . a:text}],
        \ 'max_tokens': s:setting('max_tokens', 1024),
        \ 'stream': v:false}
  if s:setting('model', '') !=# ''
    let l:request.model = s:setting('model', '')
  endif
  return json_encode(l:request)
endfunction

" The answer's text, without a code fence around all of it; throws the
" server's error message.
function! phi4#answer(response) abort
  try
    let l:reply = json_decode(a:response)
  catch
    throw 'phi4: the server did not answer with JSON: ' . strpart(a:response, 0, 200)
  endtry
  if type(l:reply) != v:t_dict
    throw 'phi4: unexpected answer: ' . strpart(a:response, 0, 200)
  endif
  if has_key(l:reply, 'error')
    let l:error = l:reply.error
    throw 'phi4: ' . (type(l:error) == v:t_dict ? get(l:error, 'message', '') : l:error)
  endif
  let l:lines = split(l:reply.choices[0].message.content, "\n", 1)
  if len(l:lines) >= 2 && l:lines[0] =~# '^```' && l:lines[-1] =~# '^```\s*$'
    let l:lines = l:lines[1:-2]
  endif
  return l:lines
endfunction

function! phi4#rewrite(first, last, instruction) abort
  if a:instruction ==# ''
    echohl ErrorMsg | echomsg 'phi4: no instruction' | echohl None
    return
  endif
  let l:text = join(getline(a:first, a:last), "\n")
  let l:url = s:setting('server', 'http://127.0.0.1:8080') . '/v1/chat/completions'
  let l:cmd = 'curl -sS --max-time 600 -H ' . shellescape('Content-Type: application/json')
        \ . ' --data-binary @- ' . shellescape(l:url)
  echo 'phi4: asking ' . l:url . ' ...'
  let l:response = system(l:cmd, phi4#request(a:instruction, l:text))
  if v:shell_error
    echohl ErrorMsg | echomsg 'phi4: curl failed: ' . l:response | echohl None
    return
  endif
  try
    let l:lines = phi4#answer(l:response)
  catch /^phi4:/
    echohl ErrorMsg | echomsg v:exception | echohl None
    return
  endtry
  " Replace the lines: delete them, then put the answer where they were (a
  " buffer emptied entirely keeps one empty line, which goes too).
  let l:whole = a:first == 1 && a:last == line('$')
  silent execute a:first . ',' . a:last . 'delete _'
  call append(a:first - 1, l:lines)
  if l:whole
    silent $delete _
  endif
  echo 'phi4: done'
endfunction

command! -range -nargs=+ Phi4 call phi4#rewrite(<line1>, <line2>, <q-args>)
xnoremap <silent> <Leader>p :<C-u>call phi4#rewrite(line("'<"), line("'>"), input('phi4: '))<CR>
