require ["variables", "fileinto"];
if header :matches "subject" "[*] *" { set "list" "${1}"; fileinto "lists.${list}"; }
if header :matches "from" "* <*@*>" { fileinto "from.${3}.${2}"; }
if address :matches :localpart "to" "*+*" { fileinto "detail.${2}"; }
set :lower :upperfirst "name" "HELLO world";
if string :is "${name}" "Hello world" { fileinto "modifier-ok"; }
set :length "len" "abcdef";
if string :is "${len}" "6" { fileinto "length-ok"; }
