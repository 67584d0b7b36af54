// The tasks table (webapp/pages/tasks_table.py): NiceGUI's table with the cell templates compiled
// once. A slot added with `add_slot` is a new component on every render, so each change of any
// element on the page unmounted and mounted every cell of every row again (badges, buttons,
// tooltips): seconds of work per change in a busy browser. Here each cell template is one
// component for the table's life, and Vue only patches the cells whose values changed.
export default {
  template: `
    <q-table ref="qRef" :columns="columns">
      <template v-for="(cell, name) in cellComponents" :key="name" v-slot:[name]="slotProps">
        <component :is="cell" :props="slotProps" />
      </template>
      <template v-for="(_, slot) in $slots" v-slot:[slot]="slotProps">
        <slot :name="slot" v-bind="slotProps || {}" />
      </template>
    </q-table>
  `,
  props: {
    columns: Array,
    cells: Object, // slot name → template (its slot props are `props`)
  },
  created() {
    const host = this;
    this.cellComponents = Vue.markRaw(
      Object.fromEntries(
        Object.entries(this.cells || {}).map(([name, template]) => [
          name,
          Vue.markRaw({
            props: { props: Object },
            template,
            methods: {
              emitUp(event, args) {
                host.$emit(event, args); // reaches the element's NiceGUI listeners
              },
            },
          }),
        ]),
      ),
    );
  },
};
